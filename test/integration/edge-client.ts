// Test clients of the edge integration test (not a test file): raw HTTP/1.1 over a socket (any
// header, an optional PROXY protocol header first, a chosen local address), HTTP/2 over TLS.
import { connect as connectHttp2 } from 'node:http2';
import { connect, isIP } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { EchoedRequest } from '../../dev/backends.js';

export interface RawResponse {
  status: number;
  /** Header lines in order, names lowercased. */
  headers: [string, string][];
  body: string;
}

export interface RawRequest {
  port: number;
  /** Address to connect to (default 127.0.0.1). */
  address?: string;
  localAddress?: string;
  method?: string;
  path?: string;
  /** Header lines as sent (Host included by the caller); `connection: close` is added. */
  headers: [string, string][];
  body?: string;
  /** Bytes sent before the request: a PROXY protocol header. */
  prefix?: Buffer;
  /** `HTTP/1.1` unless given (`HTTP/1.0` may go without a Host). */
  version?: string;
  /** HTTP/1.1 over TLS with this SNI (ALPN http/1.1). */
  servername?: string;
}

export function header(r: { headers: [string, string][] }, name: string): string[] {
  return r.headers.filter(([n]) => n === name).map(([, v]) => v);
}

/** One HTTP/1.1 request on a fresh connection; resolves when the server closes it. */
export function rawRequest(req: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const target = { port: req.port, host: req.address ?? '127.0.0.1', localAddress: req.localAddress };
    const socket = req.servername
      ? tlsConnect({ ...target, servername: req.servername, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] })
      : connect(target);
    socket.setTimeout(5_000, () => socket.destroy(new Error('raw request timed out')));
    const chunks: Buffer[] = [];
    socket.on(req.servername ? 'secureConnect' : 'connect', () => {
      const lines = [
        `${req.method ?? 'GET'} ${req.path ?? '/echo'} ${req.version ?? 'HTTP/1.1'}`,
        ...req.headers.map(([n, v]) => `${n}: ${v}`),
        'connection: close',
      ];
      if (req.prefix) socket.write(req.prefix);
      socket.end(`${lines.join('\r\n')}\r\n\r\n${req.body ?? ''}`);
    });
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', reject);
    socket.on('close', () => {
      const raw = Buffer.concat(chunks).toString('latin1');
      const at = raw.indexOf('\r\n\r\n');
      if (at === -1) return reject(new Error(`no HTTP response (got ${JSON.stringify(raw.slice(0, 200))})`));
      const [statusLine = '', ...lines] = raw.slice(0, at).split('\r\n');
      const headers = lines.map((l): [string, string] => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]);
      const chunked = headers.some(([n, v]) => n === 'transfer-encoding' && /chunked/i.test(v));
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: chunked ? dechunk(raw.slice(at + 4)) : raw.slice(at + 4) });
    });
  });
}

function dechunk(text: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const eol = text.indexOf('\r\n', at);
    const size = Number.parseInt(text.slice(at, eol), 16);
    if (eol === -1 || !(size > 0)) return out;
    out += text.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}

/** The request as the echo backend saw it. */
export function echoed(r: RawResponse | { body: string }): EchoedRequest {
  return JSON.parse(r.body) as EchoedRequest;
}

/** PROXY protocol v1 header (text). */
export function proxyV1(src: string, dst: string, srcPort: number, dstPort: number): Buffer {
  return Buffer.from(`PROXY ${isIP(src) === 6 ? 'TCP6' : 'TCP4'} ${src} ${dst} ${srcPort} ${dstPort}\r\n`);
}

/** PROXY protocol v2 header (binary), TCP over IPv4, as an AWS NLB sends it (without TLVs). */
export function proxyV2(src: string, dst: string, srcPort: number, dstPort: number): Buffer {
  const signature = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
  const addresses = Buffer.alloc(12);
  src.split('.').forEach((b, i) => addresses.writeUInt8(Number(b), i));
  dst.split('.').forEach((b, i) => addresses.writeUInt8(Number(b), 4 + i));
  addresses.writeUInt16BE(srcPort, 8);
  addresses.writeUInt16BE(dstPort, 10);
  // 0x21: version 2, PROXY command; 0x11: AF_INET, STREAM; then the length of the addresses.
  return Buffer.concat([signature, Buffer.from([0x21, 0x11, 0x00, 12]), addresses]);
}

export interface H2Response {
  alpn: string | false | undefined;
  /** CN of the certificate HAProxy presented. */
  subject: string;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP/2 request over TLS (ALPN h2, then http/1.1) to 127.0.0.1:<port> with SNI `servername`. */
export function h2Request(port: number, servername: string, authority: string, path = '/echo', extra: Record<string, string> = {}): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    // Dev certificates are self-signed: the tests check what was negotiated, not the chain.
    const session = connectHttp2(`https://127.0.0.1:${port}`, { servername, rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'] });
    session.on('error', reject);
    session.setTimeout(5_000, () => session.destroy(new Error('h2 request timed out')));
    const stream = session.request({ ':method': 'GET', ':path': path, ':authority': authority, ...extra });
    let status = 0;
    let headers: H2Response['headers'] = {};
    let body = '';
    stream.on('response', (h) => {
      status = Number(h[':status']);
      headers = h;
    });
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => (body += d));
    stream.on('error', reject);
    stream.on('end', () => {
      const alpn = session.alpnProtocol;
      const subject = String((session.socket as TLSSocket).getPeerCertificate().subject?.CN ?? '');
      session.close();
      resolve({ alpn, subject, status, headers, body });
    });
    stream.end();
  });
}

export interface RawH2Response {
  status: number;
  /** The stream or connection was reset before a response. */
  reset: boolean;
  body: string;
}

/**
 * One HTTP/2 request over TLS with the exact header list given (names and values as sent, in
 * order, repeats allowed): Node's http2 client refuses a second `host`, so the frames are written
 * by hand (HPACK literals without indexing or Huffman). Resolves with the response's `:status`
 * and body, or status 0 when the stream or connection was reset instead.
 */
export function rawH2Request(port: number, servername: string, fields: [string, string][]): Promise<RawH2Response> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ port, host: '127.0.0.1', servername, rejectUnauthorized: false, ALPNProtocols: ['h2'] });
    socket.setTimeout(5_000, () => socket.destroy(new Error('raw h2 request timed out')));
    const frame = (type: number, flags: number, stream: number, payload: Buffer) => {
      const head = Buffer.alloc(9);
      head.writeUIntBE(payload.length, 0, 3);
      head.writeUInt8(type, 3);
      head.writeUInt8(flags, 4);
      head.writeUInt32BE(stream, 5);
      return Buffer.concat([head, payload]);
    };
    const literal = (name: string, value: string) => {
      const n = Buffer.from(name, 'latin1');
      const v = Buffer.from(value, 'latin1');
      if (n.length > 126 || v.length > 126) throw new Error('raw h2: header too long for a one-byte HPACK length');
      return Buffer.concat([Buffer.from([0x00, n.length]), n, Buffer.from([v.length]), v]);
    };
    socket.on('secureConnect', () => {
      if (socket.alpnProtocol !== 'h2') return socket.destroy(new Error(`ALPN ${socket.alpnProtocol}, not h2`));
      socket.write(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
      socket.write(frame(0x4, 0, 0, Buffer.alloc(0))); // SETTINGS
      // HEADERS, END_STREAM | END_HEADERS, stream 1.
      socket.write(frame(0x1, 0x5, 1, Buffer.concat(fields.map(([n, v]) => literal(n, v)))));
    });
    let buffer = Buffer.alloc(0);
    let status = 0;
    const body: Buffer[] = [];
    const finish = (result: RawH2Response) => {
      socket.destroy();
      resolve(result);
    };
    socket.on('data', (d: Buffer) => {
      buffer = Buffer.concat([buffer, d]);
      while (buffer.length >= 9) {
        const length = buffer.readUIntBE(0, 3);
        if (buffer.length < 9 + length) return;
        const type = buffer.readUInt8(3);
        const flags = buffer.readUInt8(4);
        const stream = buffer.readUInt32BE(5);
        const payload = buffer.subarray(9, 9 + length);
        buffer = buffer.subarray(9 + length);
        if (type === 0x4 && !(flags & 0x1)) socket.write(frame(0x4, 0x1, 0, Buffer.alloc(0))); // SETTINGS ACK
        if (type === 0x3 && stream === 1) return finish({ status: 0, reset: true, body: '' }); // RST_STREAM
        if (type === 0x7 && status === 0) return finish({ status: 0, reset: true, body: '' }); // GOAWAY before an answer
        if (type === 0x1 && stream === 1 && status === 0) status = statusOf(payload);
        if (type === 0x0 && stream === 1) body.push(flags & 0x8 ? payload.subarray(1, payload.length - payload.readUInt8(0)) : payload);
        if ((type === 0x0 || type === 0x1) && stream === 1 && flags & 0x1) {
          return finish({ status, reset: false, body: Buffer.concat(body).toString('utf8') });
        }
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve({ status: 0, reset: true, body: '' }));
  });
}

/**
 * `:status` from the first HPACK field of a response: HAProxy sends it as an indexed field of the
 * static table (8-14) or as a literal with the indexed name `:status` (index 8).
 */
function statusOf(block: Buffer): number {
  const first = block.readUInt8(0);
  const STATIC: Record<number, number> = { 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 };
  if (first & 0x80) return STATIC[first & 0x7f] ?? -1;
  const length = block.readUInt8(1) & 0x7f;
  if (block.readUInt8(1) & 0x80) throw new Error('raw h2: Huffman-coded :status');
  return Number(block.subarray(2, 2 + length).toString('latin1'));
}
