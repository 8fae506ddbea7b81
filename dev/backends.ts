// Dev and test helper: tiny loopback backends standing in for Marathon tasks. HTTP backends answer
// `<app> <instance>`; TCP backends write the same as a banner line.
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface Backend {
  port: number;
  /** What the backend answers with, e.g. `wordpress-community #1`. */
  label: string;
  close(): Promise<void>;
}

function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function closer(server: { close(cb: () => void): void; closeAllConnections?: () => void }): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    });
}

/** What `/echo` answers: the request exactly as the backend received it (JSON). */
export interface EchoedRequest {
  label: string;
  method: string;
  url: string;
  /** Header lines in the order received, names lowercased (repeated headers stay separate). */
  headers: [string, string][];
  /** Bytes of the request body. */
  bodyLength: number;
  /** The peer of the backend's connection (HAProxy). */
  remoteAddress: string;
}

/** `/echo...`: lets tests see the headers HAProxy forwarded (the router's forwarded headers). */
function echoRequest(label: string, req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void {
  let bodyLength = 0;
  req.on('data', (chunk: Buffer) => (bodyLength += chunk.length));
  req.on('end', () => {
    const headers: [string, string][] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i]!.toLowerCase(), req.rawHeaders[i + 1]!]);
    const echoed: EchoedRequest = { label, method: req.method ?? '', url: req.url ?? '', headers, bodyLength, remoteAddress: req.socket.remoteAddress ?? '' };
    res.writeHead(200, { 'content-type': 'application/json', 'x-backend': label });
    res.end(JSON.stringify(echoed));
  });
}

export async function startHttpBackend(label: string, opts: { status?: () => number } = {}): Promise<Backend> {
  const server = createHttpServer((req, res) => {
    // `/slow?ms=N` answers after N ms: lets tests hold a request open across a change.
    const slow = /^\/slow\?ms=(\d+)/.exec(req.url ?? '');
    // `/status/NNN` answers with that status: the dev traffic generator's errors (dev/traffic.ts).
    const asked = /^\/status\/([1-5]\d\d)$/.exec(req.url ?? '');
    const answer = () => {
      // x-path: the path the app received (router.strip-path tests).
      res.writeHead(asked ? Number(asked[1]) : (opts.status?.() ?? 200), { 'content-type': 'text/plain', 'x-backend': label, 'x-path': req.url ?? '' });
      res.end(`${label}\n`);
    };
    if (slow) setTimeout(answer, Number(slow[1]));
    else if (/^\/echo(\/|\?|$)/.test(req.url ?? '')) echoRequest(label, req, res);
    else answer();
  });
  server.keepAliveTimeout = 1_000;
  const port = await listen(server);
  return { port, label, close: closer(server) };
}

export async function startTcpBackend(label: string): Promise<Backend> {
  const sockets = new Set<import('node:net').Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.end(`${label}\r\n`);
  });
  const port = await listen(server);
  return {
    port,
    label,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
