// A real Consul agent (`consul agent -dev`, Debian's 1.8.7 installed by scripts/install-consul.sh into
// .tools/consul/) for the tests, the bench and `paas-router dev`: loopback only, every port (http,
// dns, serf lan/wan, server, grpc, and https when asked) on a free one, in-memory state, gone when
// stopped. With `https`, a CA-less self-signed certificate for 127.0.0.1 is made at start (openssl)
// and the agent serves its API over TLS too (HTTP/2 by ALPN, as a production agent behind TLS does).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { freePort } from '../net.js';
import { selfSignedCertificate } from '../vault/pki.js';

/** Where scripts/install-consul.sh puts the agent; PAAS_ROUTER_CONSUL_BIN overrides it. */
export const CONSUL_AGENT_BIN = process.env.PAAS_ROUTER_CONSUL_BIN || join(PACKAGE_ROOT, '.tools', 'consul', 'consul');

export function consulAgentInstalled(): boolean {
  return existsSync(CONSUL_AGENT_BIN);
}

export const CONSUL_AGENT_MISSING = `no Consul agent at ${CONSUL_AGENT_BIN}: run scripts/install-consul.sh (or scripts/setup.sh --test)`;

export interface ConsulAgentOptions {
  /** `limits.http_max_conns_per_client` (Consul's default: 200). */
  maxConnsPerClient?: number;
  /** ACLs on with `default_policy = deny` and this master token. */
  aclMasterToken?: string;
  /** More agent configuration (JSON config-file keys), merged over the ports and limits. */
  config?: Record<string, unknown>;
  /** Milliseconds to wait for a leader and the agent's own catalog entry; default 20 000. */
  timeoutMs?: number;
  /** Also serve the API over HTTPS (`ports.https`, `cert_file`, `key_file`), with a certificate made now. */
  https?: boolean;
  /**
   * A one-server cluster with a data directory (`-server -bootstrap-expect 1`) instead of `-dev`:
   * its catalog and indexes survive `restart()`, as a production agent's do.
   */
  persistent?: boolean;
}

export interface ConsulAgent {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  /** https://127.0.0.1:PORT when started with `https` (its certificate is `cacertFile`). */
  readonly httpsUrl?: string;
  /** PEM file of the HTTPS listener's self-signed certificate: the CA to trust (CONSUL_CACERT). */
  readonly cacertFile?: string;
  /** The running process (a new one after `restart`). */
  readonly proc: ChildProcess;
  /** Node name of the agent (its own services and checks are registered on it). */
  readonly node: string;
  /** Agent log so far, for diagnostics. */
  output(): string;
  /** SIGINT (1.8.7 exits 1 on it: normal here), SIGKILL after 5 s. */
  stop(): Promise<void>;
  /**
   * Stops the agent and starts it again on the same ports with the same configuration, as an
   * operator's restart does; resolves when it is ready. A `-dev` agent keeps its state in memory:
   * the catalog starts empty again and its index starts low (lower than before the restart); a
   * `persistent` one keeps both.
   */
  restart(): Promise<void>;
}

const PORT_NAMES = ['http', 'dns', 'serf_lan', 'serf_wan', 'server', 'grpc'] as const;

export async function startConsulAgent(opts: ConsulAgentOptions = {}): Promise<ConsulAgent> {
  if (!consulAgentInstalled()) throw new Error(CONSUL_AGENT_MISSING);
  // A port taken between the probe and the agent's bind makes it exit at once: try fresh ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      if (attempt >= 3 || !(err instanceof PortClash)) throw err;
    }
  }
}

class PortClash extends Error {}

async function startOnce(opts: ConsulAgentOptions): Promise<ConsulAgent> {
  const dir = await mkdtemp(join(tmpdir(), 'paas-router-consul-'));
  const names = opts.https ? [...PORT_NAMES, 'https' as const] : PORT_NAMES;
  const ports = Object.fromEntries(await Promise.all(names.map(async (name) => [name, await freePort()] as const))) as Record<
    (typeof PORT_NAMES)[number] | 'https',
    number
  >;
  const node = 'paas-router-dev';
  let tls: Record<string, unknown> = {};
  let cacertFile: string | undefined;
  if (opts.https) {
    const pair = await selfSignedCertificate({ commonName: 'consul-agent', altNames: ['127.0.0.1', 'localhost'] });
    cacertFile = join(dir, 'agent-cert.pem');
    await writeFile(cacertFile, pair.certificate);
    await writeFile(join(dir, 'agent-key.pem'), pair.privateKey, { mode: 0o600 });
    tls = { cert_file: cacertFile, key_file: join(dir, 'agent-key.pem') };
  }
  const config: Record<string, unknown> = {
    node_name: node,
    ports,
    limits: { http_max_conns_per_client: opts.maxConnsPerClient ?? 200 },
    log_level: 'warn',
    ...tls,
    ...(opts.persistent ? { server: true, bootstrap_expect: 1, data_dir: join(dir, 'data'), performance: { raft_multiplier: 1 } } : {}),
    ...(opts.aclMasterToken
      ? { acl: { enabled: true, default_policy: 'deny', enable_token_persistence: false, tokens: { master: opts.aclMasterToken } } }
      : {}),
    ...opts.config,
  };
  const configFile = join(dir, 'agent.json');
  await writeFile(configFile, JSON.stringify(config));
  const url = `http://127.0.0.1:${ports.http}`;
  const headers: Record<string, string> = opts.aclMasterToken ? { 'X-Consul-Token': opts.aclMasterToken } : {};
  const timeoutMs = opts.timeoutMs ?? 20_000;

  let output = '';
  let proc!: ChildProcess;
  let exited!: Promise<void>;
  const kill = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGINT');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
  };
  const stop = async () => {
    await kill();
    await rm(dir, { recursive: true, force: true });
  };
  const launch = async () => {
    const mode = opts.persistent ? [] : ['-dev'];
    proc = spawn(CONSUL_AGENT_BIN, ['agent', ...mode, '-client', '127.0.0.1', '-bind', '127.0.0.1', '-config-file', configFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.on('data', (d) => (output += d));
    proc.stderr!.on('data', (d) => (output += d));
    const p = proc;
    exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (proc.exitCode !== null) {
        await stop();
        const message = `consul agent exited (${proc.exitCode}) at start:\n${output}`;
        throw /address already in use/.test(output) ? new PortClash(message) : new Error(message);
      }
      // Ready = a leader is elected and the agent has synced its own node and `consul` service, so
      // the first index a test reads no longer moves by itself.
      if (await ready(url, node, headers)) return;
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`consul agent at ${url} was not ready within ${timeoutMs} ms:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await launch();
  return {
    url,
    port: ports.http,
    ...(opts.https ? { httpsUrl: `https://127.0.0.1:${ports.https}`, cacertFile } : {}),
    get proc() {
      return proc;
    },
    node,
    output: () => output,
    stop,
    restart: async () => {
      await kill();
      await launch();
    },
  };
}

async function ready(url: string, node: string, headers: Record<string, string>): Promise<boolean> {
  try {
    const leader = await getJson(`${url}/v1/status/leader`, headers);
    if (leader.status !== 200 || leader.body === '') return false;
    const self = await getJson(`${url}/v1/catalog/node/${node}`, headers);
    const body = self.body as { Services?: Record<string, unknown> } | null;
    return self.status === 200 && Boolean(body?.Services && 'consul' in body.Services);
  } catch {
    return false;
  }
}

/** One GET on a connection of its own, closed afterwards: no idle socket left to count against the agent's per-client limit. */
function getJson(url: string, headers: Record<string, string>): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, headers }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('error', reject);
  });
}
