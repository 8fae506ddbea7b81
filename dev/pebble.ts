// Dev and test helper: a real ACME server, Debian's `pebble` (2.4), with `pebble-challtestsrv` as
// its DNS server answering every A query with 127.0.0.1 (no AAAA), a listener certificate made
// here, HTTP-01 validated on `httpPort` (the router's HTTP port) and no artificial sleeps.
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:https';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './net.js';
import { selfSignedCertificate } from './vault/pki.js';

export interface PebbleOptions {
  /** Port Pebble's validation authority connects to for HTTP-01. */
  httpPort: number;
  /** Validity of issued certificates, seconds (Pebble's default: 5 years). */
  certificateValiditySeconds?: number;
  /** Names Pebble refuses to issue for (rejectedIdentifier), like a CA's policy would. */
  domainBlocklist?: string[];
  /** Percentage of requests Pebble refuses with badNonce (default 0 here; Pebble's own default is 5). */
  nonceRejectPercent?: number;
}

export interface Pebble {
  /** https://127.0.0.1:PORT/dir */
  directoryUrl: string;
  /** PEM file of the listener certificate (`acme.cacert`). */
  cacertFile: string;
  /** `127.0.0.1:PORT` of the challenge test server's DNS (`acme.dns_resolver`). */
  dnsResolver: string;
  /** The root that signs issued certificates (changes with every Pebble start). */
  rootPem(): Promise<string>;
  /** Make `host` resolve to `address` instead of 127.0.0.1 (a domain that does not point here). */
  setAddress(host: string, address: string): Promise<void>;
  /** Certificates Pebble issued so far (from its log). */
  issuedCount(): number;
  /** Orders Pebble received so far (from its log). */
  orderCount(): number;
  output(): string;
  stop(): Promise<void>;
  /** Stops only Pebble (the ACME server goes away); `start()` brings it back with a new root. */
  stopServer(): Promise<void>;
  startServer(): Promise<void>;
}

interface Proc {
  proc: ChildProcess;
  exited: Promise<void>;
}

function run(bin: string, args: string[], env: NodeJS.ProcessEnv, onOutput: (d: string) => void): Proc {
  const proc = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (d) => onOutput(String(d)));
  proc.stderr!.on('data', (d) => onOutput(String(d)));
  return { proc, exited: new Promise((resolve) => proc.once('exit', () => resolve())) };
}

async function kill(p: Proc | undefined): Promise<void> {
  if (!p || p.proc.exitCode !== null || p.proc.signalCode !== null) return;
  p.proc.kill('SIGTERM');
  const timer = setTimeout(() => p.proc.kill('SIGKILL'), 3_000);
  await p.exited;
  clearTimeout(timer);
}

function httpsGet(url: string, ca: string, method = 'GET', body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: new Agent({ ca }), timeout: 5_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error(`${url} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, output: () => string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${timeoutMs} ms:\n${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startPebble(opts: PebbleOptions): Promise<Pebble> {
  const dir = await mkdtemp(join(tmpdir(), 'paas-router-pebble-'));
  const listener = await selfSignedCertificate({ commonName: 'pebble', altNames: ['127.0.0.1', 'localhost'] });
  const cacertFile = join(dir, 'listener.pem');
  await writeFile(cacertFile, listener.certificate);
  await writeFile(join(dir, 'listener-key.pem'), listener.privateKey, { mode: 0o600 });
  const [dnsPort, challMgmt, acmePort, mgmtPort, tlsPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${acmePort}`,
      managementListenAddress: `127.0.0.1:${mgmtPort}`,
      certificate: cacertFile,
      privateKey: join(dir, 'listener-key.pem'),
      httpPort: opts.httpPort,
      tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
      ...(opts.domainBlocklist ? { domainBlocklist: opts.domainBlocklist } : {}),
      ...(opts.certificateValiditySeconds ? { certificateValidityPeriod: opts.certificateValiditySeconds } : {}),
    },
  };
  await writeFile(join(dir, 'pebble.json'), JSON.stringify(config));
  let output = '';
  const onOutput = (d: string) => (output += d);
  const chall = run(
    'pebble-challtestsrv',
    [
      '-dns01',
      `127.0.0.1:${dnsPort}`,
      '-management',
      `127.0.0.1:${challMgmt}`,
      '-http01',
      '',
      '-https01',
      '',
      '-tlsalpn01',
      '',
      '-defaultIPv4',
      '127.0.0.1',
      '-defaultIPv6',
      '',
    ],
    process.env,
    onOutput,
  );
  const env = { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: String(opts.nonceRejectPercent ?? 0), PEBBLE_AUTHZREUSE: '0' };
  let pebble: Proc | undefined;
  const directoryUrl = `https://127.0.0.1:${acmePort}/dir`;
  const startServer = async () => {
    pebble = run('pebble', ['-config', join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`], env, onOutput);
    await waitFor(
      'pebble',
      async () => (await httpsGet(directoryUrl, listener.certificate)).status === 200,
      () => output,
    );
  };
  const stop = async () => {
    await kill(pebble);
    await kill(chall);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      'pebble-challtestsrv',
      async () => {
        const res = await fetch(`http://127.0.0.1:${challMgmt}/clear-request-history`, { method: 'POST', body: '{"host":"x","type":"http"}' }).catch(
          () => undefined,
        );
        return res !== undefined;
      },
      () => output,
    );
    await startServer();
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    directoryUrl,
    cacertFile,
    dnsResolver: `127.0.0.1:${dnsPort}`,
    async rootPem() {
      const res = await httpsGet(`https://127.0.0.1:${mgmtPort}/roots/0`, listener.certificate);
      if (res.status !== 200) throw new Error(`pebble /roots/0 answered ${res.status}`);
      return res.body;
    },
    async setAddress(host, address) {
      const fqdn = host.endsWith('.') ? host : `${host}.`;
      // add-a adds to the host's addresses: clear them first (then the default 127.0.0.1 applies).
      const cleared = await fetch(`http://127.0.0.1:${challMgmt}/clear-a`, { method: 'POST', body: JSON.stringify({ host: fqdn }) });
      if (!cleared.ok) throw new Error(`pebble-challtestsrv clear-a answered ${cleared.status}`);
      if (address === '127.0.0.1') return;
      const res = await fetch(`http://127.0.0.1:${challMgmt}/add-a`, { method: 'POST', body: JSON.stringify({ host: fqdn, addresses: [address] }) });
      if (!res.ok) throw new Error(`pebble-challtestsrv add-a answered ${res.status}`);
    },
    issuedCount: () => (output.match(/Issued certificate serial/g) ?? []).length,
    orderCount: () => (output.match(/Added order /g) ?? []).length,
    output: () => output,
    stop,
    stopServer: () => kill(pebble),
    startServer,
  };
}
