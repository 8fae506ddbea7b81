// Requests to Consul as HTTP/2 streams over a few TLS connections (ALPN `h2`; a Consul agent's HTTPS
// API speaks it). Many blocking queries share one connection: an agent limits each client address
// in connections (limits.http_max_conns_per_client), not in streams. A connection carries at most
// the streams the server advertises (SETTINGS_MAX_CONCURRENT_STREAMS, 250 on Consul 1.8); a new one
// opens only when every open one is full, and never more than `maxSessions`; past that a request
// waits for a free stream. A stream the server refused (RST_STREAM REFUSED_STREAM), reset, or did
// not take before its GOAWAY is sent again on another connection (a GET: safe to repeat), and
// counted.
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import { ConsulUnavailableError, RouterError } from '../../errors.js';
import { asRefusal, ConsulRefusedError, refusedAnswer } from './refusal.js';

/** The agent answered the TLS handshake without choosing `h2` (an HTTP/1.1-only listener). */
export class Http2UnsupportedError extends RouterError {
  constructor(readonly alpn: string) {
    super('CONSUL_NO_HTTP2', `Consul did not negotiate HTTP/2 (ALPN ${alpn || 'none'})`);
  }
}

/** What the HTTP/2 connections have seen (ConsulTraffic carries them to /metrics). */
export interface Http2Counters {
  /** Connections the server closed with a GOAWAY (gracefully or not). */
  goaway: number;
  /** Streams the server reset (RST_STREAM), refused ones not included; each was sent again. */
  streamResets: number;
  /** Streams the server refused (REFUSED_STREAM, or above a GOAWAY's last stream); each was sent again. */
  refusedStreams: number;
  /** Streams open now, and the most open at once. */
  streams: number;
  maxStreamsHeld: number;
}

export interface Http2PoolOptions {
  origin: URL;
  ca?: Buffer;
  maxSessions: number;
  /** Fewer streams per connection than the server allows (tests of the stream accounting). */
  maxStreamsPerSession?: number;
  counters: Http2Counters;
  /** Told the number of open connections whenever it changes. */
  onSessions: (open: number) => void;
  /** Told once when a request has to wait because every stream of every allowed connection is taken. */
  onSaturated?: () => void;
  /** Told when the server refused one more connection while others stay open (its per-client limit). */
  onRefusedConnection?: () => void;
}

export interface Http2Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface Session {
  readonly h2: ClientHttp2Session;
  active: number;
  limit: number;
  /** GOAWAY received or closing: takes no new stream. */
  closing: boolean;
}

interface RequestOptions {
  method: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  timeoutMs: number;
  signal?: AbortSignal;
}

/**
 * One request until it is answered or given up: queued for a stream, then on one (sent again when
 * the stream was refused, reset or cut by a GOAWAY). A plain record, not a chain of async calls: a
 * blocking read is held for minutes, one per watched service, and this is all it keeps.
 */
interface Pending {
  readonly path: string;
  readonly opts: RequestOptions;
  readonly resolve: (answer: Http2Answer) => void;
  readonly reject: (err: unknown) => void;
  readonly onAbort: (() => void) | undefined;
  /** Times sent so far. */
  sent: number;
  /** The stream it is on now, and that stream's connection; undefined while queued or once ended. */
  stream: ClientHttp2Stream | undefined;
  session: Session | undefined;
}

/**
 * Flow-control windows: HTTP/2's defaults (64 KB per stream and per connection) let a connection
 * carry 64 KB of answers until the client's event loop acknowledges them; with dozens of reads in
 * flight on one connection (a start, thousands of services) the agent then waits on a busy client.
 * An answer is bounded by what Consul sends anyway.
 */
const STREAM_WINDOW = 1 << 20;
const CONNECTION_WINDOW = 16 << 20;

/** How often one request is sent again after its stream was refused, reset or cut by a GOAWAY. */
const REISSUES = 3;

/** The stream ended unanswered in a way that is safe to send again (refused, reset, cut by a GOAWAY). */
class StreamReissue extends RouterError {
  constructor(message: string) {
    super('CONSUL_STREAM_CLOSED', message);
  }
}

export class Http2Pool {
  private readonly sessions = new Set<Session>();
  private opening = false;
  /** Requests waiting for a free stream, in order. */
  private readonly waiters: Pending[] = [];
  private saturatedTold = false;
  /** Connections the server admitted when it refused one more; no new one is tried until one closes. */
  private admitted: number | undefined;
  private closed = false;

  constructor(private readonly opts: Http2PoolOptions) {}

  /** Opens the first connection: rejects with Http2UnsupportedError when the agent does not speak h2. */
  async open(): Promise<void> {
    if (this.sessions.size === 0) this.add(await this.connect());
  }

  close(): void {
    this.closed = true;
    for (const s of this.sessions) s.h2.destroy();
    this.sessions.clear();
    for (const w of this.waiters.splice(0)) this.settle(w, new ConsulUnavailableError('the Consul client was closed'));
  }

  /** One request on a free stream (waiting for one when every allowed connection is full). A 429 rejects with ConsulRefusedError. */
  request(path: string, opts: RequestOptions): Promise<Http2Answer> {
    return new Promise((resolve, reject) => {
      const { signal } = opts;
      if (signal?.aborted) return reject(new ConsulUnavailableError('request aborted'));
      const p: Pending = { path, opts, resolve, reject, onAbort: signal && (() => this.abandon(p)), sent: 0, stream: undefined, session: undefined };
      if (p.onAbort) signal!.addEventListener('abort', p.onAbort, { once: true });
      this.waiters.push(p);
      this.pump();
    });
  }

  private settle(p: Pending, err: unknown, answer?: Http2Answer): void {
    if (p.onAbort) p.opts.signal!.removeEventListener('abort', p.onAbort);
    if (err) p.reject(err);
    else p.resolve(answer!);
  }

  /** Its signal aborted: out of the queue, or its stream cancelled. */
  private abandon(p: Pending): void {
    const i = this.waiters.indexOf(p);
    if (i >= 0) this.waiters.splice(i, 1);
    const stream = p.stream;
    if (stream) this.ended(p, new ConsulUnavailableError('request aborted'));
    else if (i >= 0) this.settle(p, new ConsulUnavailableError('request aborted'));
    stream?.close(constants.NGHTTP2_CANCEL);
  }

  /** Its stream is over: the stream is free again; the request is answered, failed, or sent again. */
  private ended(p: Pending, err: Error | undefined, answer?: Http2Answer): void {
    this.release(p.session!);
    p.stream = undefined;
    p.session = undefined;
    if (!(err instanceof StreamReissue) || p.opts.signal?.aborted) this.settle(p, err, answer);
    else if (p.sent > REISSUES) this.settle(p, new ConsulUnavailableError(`Consul closed the stream ${p.sent} times in a row (${err.message})`));
    else {
      this.waiters.push(p);
      this.pump();
    }
  }

  private send(s: Session, p: Pending): void {
    const counters = this.opts.counters;
    const { opts } = p;
    p.sent += 1;
    p.session = s;
    let stream: ClientHttp2Stream;
    try {
      stream = s.h2.request({ ':method': opts.method, ':path': p.path, ...opts.headers }, { endStream: opts.body === undefined });
    } catch (err) {
      // The session is going away (a GOAWAY just read, not yet seen here): another one.
      s.closing = true;
      this.ended(p, new StreamReissue(String(err)));
      return;
    }
    p.stream = stream;
    let error: Error | undefined;
    let status = 0;
    let headers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    // Events of a stream the request has left (aborted, timed out) are not its own any more.
    const finish = (err: Error | undefined, answer?: Http2Answer) => p.stream === stream && this.ended(p, err, answer);
    stream.setTimeout(opts.timeoutMs, () => {
      finish(new ConsulUnavailableError(`no answer within ${opts.timeoutMs} ms`));
      stream.close(constants.NGHTTP2_CANCEL);
    });
    stream.on('response', (h) => {
      headers = h;
      status = Number(h[':status']);
    });
    stream.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      this.bytes(chunk.length);
    });
    // An end with no response headers is a stream closed unanswered: 'close' says why.
    stream.on('end', () => status !== 0 && finish(refusedAnswer(status), { status, headers, body: Buffer.concat(chunks) }));
    stream.on('error', (err) => (error = err));
    stream.on('close', () => {
      if (p.stream !== stream) return;
      const code = stream.rstCode;
      if (code === constants.NGHTTP2_REFUSED_STREAM) {
        counters.refusedStreams += 1;
        return finish(new StreamReissue('refused stream'));
      }
      if (s.closing && status === 0) {
        // Cut by the GOAWAY before the server took it: it was never processed.
        counters.refusedStreams += 1;
        return finish(new StreamReissue('connection going away'));
      }
      if (code !== undefined && code !== constants.NGHTTP2_NO_ERROR && !s.h2.destroyed) {
        counters.streamResets += 1;
        return finish(new StreamReissue(`stream reset (HTTP/2 error code ${code})`));
      }
      finish(new ConsulUnavailableError(`Consul closed the connection before its answer${error ? ` (${error.message})` : ''}`, { cause: error }));
    });
    if (opts.body !== undefined) stream.end(opts.body);
  }

  /** Set by the owner: counts answer bytes with the other transport's. */
  bytes: (n: number) => void = () => undefined;

  private release(s: Session): void {
    s.active -= 1;
    this.opts.counters.streams -= 1;
    this.pump();
  }

  /** Hands free streams to the waiters in order; opens a connection when every open one is full. */
  private pump(): void {
    while (this.waiters.length > 0) {
      const s = this.free();
      if (!s) break;
      s.active += 1;
      const c = this.opts.counters;
      c.streams += 1;
      c.maxStreamsHeld = Math.max(c.maxStreamsHeld, c.streams);
      this.send(s, this.waiters.shift()!);
    }
    if (this.waiters.length === 0 || this.opening || this.closed) return;
    if (this.admitted !== undefined && this.sessions.size >= this.admitted) return;
    if (this.sessions.size >= this.opts.maxSessions) {
      if (!this.saturatedTold) this.opts.onSaturated?.();
      this.saturatedTold = true;
      return;
    }
    this.opening = true;
    this.connect().then(
      (s) => {
        this.opening = false;
        if (this.closed) return s.h2.destroy();
        this.add(s);
        this.pump();
      },
      (err: unknown) => {
        this.opening = false;
        if (err instanceof ConsulRefusedError && this.sessions.size > 0) {
          // The agent admits no more connections from this address (http_max_conns_per_client):
          // the waiters wait for a stream of the connections it did admit.
          this.admitted = this.sessions.size;
          this.opts.onRefusedConnection?.();
          return;
        }
        // Consul cannot be reached: every waiter fails now (their watches back off), none waits forever.
        for (const w of this.waiters.splice(0)) this.settle(w, err);
      },
    );
  }

  private free(): Session | undefined {
    let best: Session | undefined;
    // The fullest connection that still has room: the others drain, and idle ones can close.
    for (const s of this.sessions) if (!s.closing && s.active < s.limit && (!best || s.active > best.active)) best = s;
    return best;
  }

  private add(s: Session): void {
    this.sessions.add(s);
    this.opts.onSessions(this.sessions.size);
    const gone = () => {
      s.closing = true;
      this.admitted = undefined; // room for a connection again, perhaps: the next one will tell
      if (this.sessions.delete(s)) this.opts.onSessions(this.sessions.size);
      this.pump();
    };
    s.h2.on('goaway', () => {
      // Counted once per connection (a server may send a second one as it closes).
      if (!s.closing) this.opts.counters.goaway += 1;
      s.closing = true;
      this.pump();
    });
    s.h2.on('close', gone);
    s.h2.on('error', () => gone());
    s.h2.on('remoteSettings', (settings) => {
      s.limit = this.streamLimit(settings.maxConcurrentStreams);
      this.pump();
    });
  }

  private streamLimit(advertised: number | undefined): number {
    const server = advertised ?? 100; // RFC 9113 recommends at least 100 when a server says nothing
    return Math.max(1, Math.min(server, this.opts.maxStreamsPerSession ?? Number.POSITIVE_INFINITY));
  }

  /** One TLS connection that chose h2, with the server's first SETTINGS read. */
  private connect(): Promise<Session> {
    const { origin, ca } = this.opts;
    const host = origin.hostname.replace(/^\[|\]$/g, '');
    return new Promise((resolve, reject) => {
      const socket: TLSSocket = tlsConnect({
        host,
        port: Number(origin.port || 443),
        ca,
        ALPNProtocols: ['h2', 'http/1.1'],
        ...(isIP(host) ? {} : { servername: host }),
      });
      // A reset during the TLS handshake is how an agent past its per-client limit refuses.
      const fail = (err: unknown) => {
        socket.destroy();
        reject(asRefusal(err));
      };
      socket.once('error', fail);
      socket.once('secureConnect', () => {
        if (socket.alpnProtocol !== 'h2') return fail(new Http2UnsupportedError(socket.alpnProtocol || ''));
        socket.off('error', fail);
        const h2 = connect(origin, { createConnection: () => socket, settings: { initialWindowSize: STREAM_WINDOW } });
        h2.once('connect', () => h2.setLocalWindowSize(CONNECTION_WINDOW));
        const s: Session = { h2, active: 0, limit: 1, closing: false };
        const early = (err?: Error) => reject(err ? asRefusal(err) : new ConsulUnavailableError('Consul closed the HTTP/2 connection at once'));
        h2.once('error', early);
        h2.once('close', early);
        h2.once('remoteSettings', (settings) => {
          h2.off('error', early);
          h2.off('close', early);
          h2.on('error', () => undefined); // followed by `add` from now on; never an unhandled 'error'
          s.limit = this.streamLimit(settings.maxConcurrentStreams);
          resolve(s);
        });
      });
    });
  }
}
