// Dev and test helpers: one request through HAProxy, as a user's client would send it.
import { request as httpRequest, type Agent, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';

/** GET http://127.0.0.1:<port>/ with a Host header, through HAProxy (a fresh connection, or `agent`'s). */
export function requestThrough(port: number, host: string, path = '/', agent?: Agent): Promise<{ status: number; body: string; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const headers = agent ? { host } : { host, connection: 'close' };
    const req = httpRequest({ host: '127.0.0.1', port, path, headers, agent, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('timeout', () => req.destroy(new Error(`request to ${host} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** Like requestThrough, but a socket error is status 0 instead of a rejection (load loops count it). */
export function probeThrough(port: number, host: string, path = '/', agent?: Agent): Promise<{ status: number; body: string }> {
  return requestThrough(port, host, path, agent).catch(() => ({ status: 0, body: '', headers: {} }));
}

/** Reads the first line a TCP app sends through HAProxy. */
export function tcpBanner(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(5_000, () => socket.destroy(new Error('tcp read timed out')));
    socket.on('data', (d) => (data += d));
    socket.on('end', () => resolve(data.trim()));
    socket.on('error', reject);
  });
}
