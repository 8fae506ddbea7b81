// Shared by the TLS tests (not a test file).
import { request } from 'node:http';

/** GET over plain HTTP with a Host header: status and Location (redirects are not followed). */
export function httpGet(port: number, host: string, path = '/', auth?: string): Promise<{ status: number; location: string | undefined }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host, connection: 'close' };
    if (auth) headers.authorization = `Basic ${Buffer.from(auth).toString('base64')}`;
    const req = request({ host: '127.0.0.1', port, path, headers, timeout: 5_000 }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, location: res.headers.location });
    });
    req.on('timeout', () => req.destroy(new Error(`request to ${host} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
