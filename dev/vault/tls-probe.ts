// Dev and test helper: one HTTPS request through HAProxy with SNI, as a browser would send it,
// reporting which certificate HAProxy presented for that name.
import { connect, type PeerCertificate } from 'node:tls';

export interface TlsAnswer {
  /** Subject CN of the certificate HAProxy presented. */
  subject: string;
  /** SHA-256 fingerprint (`AA:BB:...`), as X509Certificate.fingerprint256 prints it. */
  fingerprint256: string;
  /** DNS names of the presented certificate. */
  altNames: string;
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * GET https://<servername>/<path> sent to 127.0.0.1:<port>. Verification is off on purpose (dev
 * certificates are self-signed); callers check the certificate they got instead.
 */
export function requestTls(port: number, servername: string, path = '/', timeoutMs = 5_000): Promise<TlsAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    let cert: PeerCertificate | undefined;
    let raw = '';
    const timer = setTimeout(() => socket.destroy(new Error(`TLS request to ${servername} timed out`)), timeoutMs);
    socket.once('secureConnect', () => {
      cert = socket.getPeerCertificate();
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${servername}\r\nConnection: close\r\n\r\n`);
    });
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (raw += d));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('end', () => {
      clearTimeout(timer);
      if (!cert) return reject(new Error(`no TLS handshake with ${servername}`));
      const [head = '', ...rest] = raw.split('\r\n\r\n');
      const [statusLine = '', ...headerLines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const at = line.indexOf(':');
        if (at > 0) headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
      }
      resolve({
        subject: String(cert.subject?.CN ?? ''),
        fingerprint256: cert.fingerprint256,
        altNames: cert.subjectaltname ?? '',
        status: Number(statusLine.split(' ')[1] ?? 0),
        headers,
        body: /chunked/i.test(headers['transfer-encoding'] ?? '') ? dechunk(rest.join('\r\n\r\n')) : rest.join('\r\n\r\n'),
      });
    });
  });
}

/** Decodes an HTTP/1.1 chunked body (sizes in hex, each chunk followed by CRLF, a 0 chunk last). */
export function dechunk(text: string): string {
  let out = '';
  let rest = text;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    if (eol < 0) return out;
    const size = parseInt(rest.slice(0, eol), 16);
    if (!Number.isFinite(size) || size === 0) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}
