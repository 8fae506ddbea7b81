// A small WebSocket (RFC 6455) server and client over raw sockets, for the router.timeout-tunnel
// tests (not a test file): Node 20 has no WebSocket server, and a raw client shows exactly what
// HAProxy forwards. Text frames only, payloads under 64 KiB.
import { createHash, randomBytes } from 'node:crypto';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import { type AddressInfo, type Socket, connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
export const acceptOf = (key: string) =>
  createHash('sha1')
    .update(key + GUID)
    .digest('base64');

interface Frame {
  opcode: number;
  payload: Buffer;
}

/** Frames from a byte stream (masked or not); incomplete frames wait for more bytes. */
function frameReader(onFrame: (f: Frame) => void): (chunk: Buffer) => void {
  let buffered = Buffer.alloc(0);
  return (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    for (;;) {
      if (buffered.length < 2) return;
      const opcode = buffered[0]! & 0x0f;
      const masked = (buffered[1]! & 0x80) !== 0;
      let length = buffered[1]! & 0x7f;
      let at = 2;
      if (length === 126) {
        if (buffered.length < 4) return;
        length = buffered.readUInt16BE(2);
        at = 4;
      }
      const mask = masked ? buffered.subarray(at, at + 4) : undefined;
      if (masked) at += 4;
      if (buffered.length < at + length) return;
      const payload = Buffer.from(buffered.subarray(at, at + length));
      if (mask) for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
      buffered = buffered.subarray(at + length);
      onFrame({ opcode, payload });
    }
  };
}

function frame(opcode: number, payload: Buffer, masked: boolean): Buffer {
  const head =
    payload.length < 126 ? Buffer.from([0x80 | opcode, payload.length]) : Buffer.from([0x80 | opcode, 126, payload.length >> 8, payload.length & 0xff]);
  if (!masked) return Buffer.concat([head, payload]);
  head[1]! |= 0x80;
  const mask = randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= mask[i % 4]!;
  return Buffer.concat([head, mask, body]);
}

/** An echo server: upgrades `GET` requests with `Upgrade: websocket`, echoes every text frame as `<label>: <text>`. */
export async function startWebSocketEcho(label: string): Promise<{ port: number; upgrades: IncomingMessage[]; close(): Promise<void> }> {
  const upgrades: IncomingMessage[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`${label}\n`);
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const key = req.headers['sec-websocket-key'];
    if (req.headers.upgrade?.toLowerCase() !== 'websocket' || typeof key !== 'string') {
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    upgrades.push(req);
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptOf(key)}\r\n\r\n`);
    socket.on(
      'data',
      frameReader((f) => {
        if (f.opcode === 0x8) socket.end(frame(0x8, Buffer.alloc(0), false));
        else if (f.opcode === 0x1) socket.write(frame(0x1, Buffer.from(`${label}: ${f.payload.toString()}`), false));
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    upgrades,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export interface WebSocketClient {
  /** The status line and headers of the upgrade response. */
  status: number;
  headers: Record<string, string>;
  send(text: string): void;
  /** The next text frame from the server. */
  next(): Promise<string>;
  /** Resolves when the connection is closed (by either side), with the time it took since the upgrade. */
  closed: Promise<number>;
  isOpen(): boolean;
  close(): void;
}

/** Opens a WebSocket through HAProxy: HTTP/1.1 upgrade to `host`, over TLS (ALPN http/1.1) when `servername` is given. */
export function openWebSocket(opts: { port: number; host: string; path?: string; servername?: string }): Promise<WebSocketClient> {
  return new Promise((resolve, reject) => {
    const socket: Socket = opts.servername
      ? tlsConnect({ port: opts.port, host: '127.0.0.1', servername: opts.servername, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] })
      : connect({ port: opts.port, host: '127.0.0.1' });
    const key = randomBytes(16).toString('base64');
    const frames: string[] = [];
    const waiting: ((text: string) => void)[] = [];
    let open = true;
    let upgradedAt = 0;
    const closed = new Promise<number>((r) =>
      socket.on('close', () => {
        open = false;
        r(performance.now() - upgradedAt);
      }),
    );
    let head = Buffer.alloc(0);
    let upgraded = false;
    const read = frameReader((f) => {
      if (f.opcode !== 0x1) return;
      const w = waiting.shift();
      if (w) w(f.payload.toString());
      else frames.push(f.payload.toString());
    });
    socket.on('error', (err) => (upgraded ? undefined : reject(err)));
    socket.on(opts.servername ? 'secureConnect' : 'connect', () => {
      socket.write(
        `GET ${opts.path ?? '/chat'} HTTP/1.1\r\nHost: ${opts.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    socket.on('data', (chunk: Buffer) => {
      if (upgraded) return read(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      upgraded = true;
      upgradedAt = performance.now();
      const [statusLine = '', ...lines] = head.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) headers[l.slice(0, l.indexOf(':')).trim().toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
      const status = Number(statusLine.split(' ')[1]);
      if (status !== 101 || headers['sec-websocket-accept'] !== acceptOf(key)) {
        socket.destroy();
        return reject(new Error(`no WebSocket upgrade: ${statusLine} ${JSON.stringify(headers)}`));
      }
      resolve({
        status,
        headers,
        send: (text) => socket.write(frame(0x1, Buffer.from(text), true)),
        next: () => {
          const ready = frames.shift();
          return ready !== undefined ? Promise.resolve(ready) : new Promise((r) => waiting.push(r));
        },
        closed,
        isOpen: () => open,
        close: () => socket.destroy(),
      });
      if (head.length > end + 4) read(head.subarray(end + 4));
    });
  });
}
