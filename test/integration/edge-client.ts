// Test clients of the edge integration test (not a test file): raw HTTP/1.1 over a socket (any
// header, an optional PROXY protocol header first, a chosen local address), HTTP/2 over TLS.
import { connect as connectHttp2 } from 'node:http2';
import { connect, isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
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
}

export function header(r: { headers: [string, string][] }, name: string): string[] {
  return r.headers.filter(([n]) => n === name).map(([, v]) => v);
}

/** One HTTP/1.1 request on a fresh connection; resolves when the server closes it. */
export function rawRequest(req: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port: req.port, host: req.address ?? '127.0.0.1', localAddress: req.localAddress });
    socket.setTimeout(5_000, () => socket.destroy(new Error('raw request timed out')));
    const chunks: Buffer[] = [];
    socket.on('connect', () => {
      const lines = [`${req.method ?? 'GET'} ${req.path ?? '/echo'} HTTP/1.1`, ...req.headers.map(([n, v]) => `${n}: ${v}`), 'connection: close'];
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
