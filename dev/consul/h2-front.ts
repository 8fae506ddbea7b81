// An HTTP/2 TLS front for a real Consul agent, for the HTTP/2 faults the agent cannot be made to
// produce on demand: a small SETTINGS_MAX_CONCURRENT_STREAMS (Consul 1.8 always advertises 250), a
// GOAWAY at an instant the test picks, and streams reset (RST_STREAM, REFUSED_STREAM or another
// code). Every other stream is forwarded to the agent's plain HTTP API as it is, and its answer
// sent back as it comes: blocking queries, indexes and bodies are the real agent's. Never imported
// from src/.
import { constants, createSecureServer, type Http2Session, type ServerHttp2Stream } from 'node:http2';
import { request as httpRequest, Agent } from 'node:http';
import type { AddressInfo } from 'node:net';
import { selfSignedCertificate } from '../vault/pki.js';

export interface H2FrontOptions {
  /** The agent's plain HTTP address (http://127.0.0.1:PORT). */
  upstream: string;
  /** SETTINGS_MAX_CONCURRENT_STREAMS advertised to clients (default 250, as Consul 1.8). */
  maxConcurrentStreams?: number;
}

export interface H2Front {
  /** https://127.0.0.1:PORT */
  readonly url: string;
  /** PEM of the front's self-signed certificate (the CA a client must trust). */
  readonly certificate: string;
  /** Connections accepted so far. */
  readonly sessionsOpened: number;
  /** Streams open now, and the most ever open at once on one connection. */
  readonly streams: number;
  readonly maxStreamsPerSession: number;
  /** GOAWAY (NO_ERROR, last stream 0: none of the open streams was processed) on every connection, which then closes. */
  goaway(): void;
  /** The next `count` streams are reset with `code` (e.g. constants.NGHTTP2_REFUSED_STREAM) instead of forwarded. */
  resetStreams(count: number, code: number): void;
  close(): Promise<void>;
}

export async function startH2Front(opts: H2FrontOptions): Promise<H2Front> {
  const pair = await selfSignedCertificate({ commonName: 'consul-h2-front', altNames: ['127.0.0.1', 'localhost'] });
  const upstream = new URL(opts.upstream);
  const agent = new Agent({ keepAlive: true });
  const server = createSecureServer({
    key: pair.privateKey,
    cert: pair.certificate,
    settings: { maxConcurrentStreams: opts.maxConcurrentStreams ?? 250 },
  });
  const sessions = new Set<Http2Session>();
  const open = new Map<Http2Session, number>();
  let sessionsOpened = 0;
  let streams = 0;
  let maxStreamsPerSession = 0;
  let resets: { count: number; code: number } = { count: 0, code: 0 };

  server.on('session', (session) => {
    sessionsOpened += 1;
    sessions.add(session);
    open.set(session, 0);
    session.on('close', () => {
      sessions.delete(session);
      open.delete(session);
    });
    session.on('error', () => undefined);
  });
  server.on('stream', (stream: ServerHttp2Stream, headers) => {
    const session = stream.session!;
    const n = (open.get(session) ?? 0) + 1;
    open.set(session, n);
    streams += 1;
    maxStreamsPerSession = Math.max(maxStreamsPerSession, n);
    stream.on('close', () => {
      streams -= 1;
      if (open.has(session)) open.set(session, (open.get(session) ?? 1) - 1);
    });
    stream.on('error', () => undefined);
    if (resets.count > 0) {
      resets.count -= 1;
      stream.close(resets.code);
      return;
    }
    const forwarded: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers)) if (!k.startsWith(':') && typeof v === 'string') forwarded[k] = v;
    const req = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: String(headers[':method']), path: String(headers[':path']), headers: forwarded, agent },
      (res) => {
        const answer: Record<string, string | string[]> = { ':status': String(res.statusCode ?? 502) };
        for (const [k, v] of Object.entries(res.headers)) {
          if (v !== undefined && !['connection', 'keep-alive', 'transfer-encoding'].includes(k)) answer[k] = v;
        }
        if (stream.destroyed) return res.destroy();
        stream.respond(answer);
        res.pipe(stream);
      },
    );
    req.on('error', () => stream.destroyed || stream.close(constants.NGHTTP2_INTERNAL_ERROR));
    stream.on('close', () => req.destroy());
    stream.pipe(req);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    certificate: pair.certificate,
    get sessionsOpened() {
      return sessionsOpened;
    },
    get streams() {
      return streams;
    },
    get maxStreamsPerSession() {
      return maxStreamsPerSession;
    },
    goaway() {
      for (const session of sessions) {
        session.goaway(constants.NGHTTP2_NO_ERROR, 0);
        setImmediate(() => session.destroy());
      }
    },
    resetStreams(count, code) {
      resets = { count, code };
    },
    close: async () => {
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
