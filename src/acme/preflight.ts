// Before an order: does http://<fqdn>/.well-known/acme-challenge/<probe> reach a router of this
// platform? The name is resolved through `dns_resolver` (the resolver the ACME server will use, as
// far as we can know it), the request goes to `challenge_port`, and the answer must be
// `<probe>.<thumbprint>`, which only a router rendered with this cluster's account key gives. A
// domain that does not point at the platform then costs no failed validation at the ACME server.
import { randomBytes } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { request } from 'node:http';
import { AcmePreflightError } from '../errors.js';

export interface PreflightOptions {
  /** `host:port` of a DNS server; '' = the system's resolver. */
  dnsResolver: string;
  challengePort: number;
  thumbprint: string;
  timeoutMs?: number;
}

export type PreflightResult = { ok: true; address: string } | { ok: false; reason: string };

async function resolve(host: string, dnsResolver: string): Promise<string[]> {
  const resolver = new Resolver({ timeout: 3_000, tries: 2 });
  if (dnsResolver) resolver.setServers([dnsResolver]);
  const [v4, v6] = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
  const addresses = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
  if (addresses.length === 0) {
    const why = v4.status === 'rejected' ? ((v4.reason as { code?: string }).code ?? String(v4.reason)) : 'no A or AAAA record';
    throw new AcmePreflightError(`${host} does not resolve${dnsResolver ? ` through ${dnsResolver}` : ''} (${why})`);
  }
  return addresses;
}

function get(address: string, port: number, host: string, path: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolvePromise, reject) => {
    const req = request(
      { host: address, port, path, method: 'GET', headers: { host, 'user-agent': 'paas-router-acme-preflight' }, timeout: timeoutMs },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
          if (body.length > 4096) req.destroy(new AcmePreflightError('answer longer than 4 KB'));
        });
        res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new AcmePreflightError(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Every address the name resolves to must answer: the ACME server may pick any of them. */
export async function preflight(host: string, opts: PreflightOptions): Promise<PreflightResult> {
  const probe = randomBytes(16).toString('base64url');
  const expected = `${probe}.${opts.thumbprint}`;
  let addresses: string[];
  try {
    addresses = await resolve(host, opts.dnsResolver);
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  for (const address of addresses) {
    const where = `${address.includes(':') ? `[${address}]` : address}:${opts.challengePort}`;
    try {
      const answer = await get(address, opts.challengePort, host, `/.well-known/acme-challenge/${probe}`, opts.timeoutMs ?? 5_000);
      if (answer.status !== 200 || answer.body.trim() !== expected) {
        return {
          ok: false,
          reason: `http://${host}/.well-known/acme-challenge/ at ${where} answered ${answer.status} without this cluster's key authorization: ${host} does not point at a router of this platform`,
        };
      }
    } catch (err) {
      return { ok: false, reason: `http://${host}/ at ${where} is not reachable (${(err as Error).message})` };
    }
  }
  return { ok: true, address: addresses[0]! };
}
