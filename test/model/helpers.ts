// Builders shared by the model tests (this file holds no tests itself).
import type { Test } from 'tap';
import type { DomainClaim, ServiceInstance } from '../../src/sources/types.js';
import type { AppRoute, ModelSettings, Rejection, RejectionKind, ServerRoute } from '../../src/model/types.js';

export const settings: ModelSettings = {
  cluster: 'production',
  baseDomain: 'mozilla.community',
  serviceIdPrefixes: ['mesos-consul:'],
  domainsPrefix: 'paas-router/domains/',
  reservedPorts: [80, 443, 8404],
};

export const CLUSTER = 'production.mozilla.community';

export interface InstanceOpts {
  id?: string;
  node?: string;
  address?: string;
  port?: number;
  tags?: string[];
  passing?: boolean;
  createIndex?: number;
}

/** Instance `n` of a mesos-consul registered service: 10.0.0.<n>:3100<n>. */
export function mc(service: string, n: number, opts: InstanceOpts = {}): ServiceInstance {
  const address = opts.address ?? `10.0.0.${n}`;
  const port = opts.port ?? 31000 + n;
  const inst: ServiceInstance = {
    id: opts.id ?? `mesos-consul:agent${n}:${service}:${address}:${port}`,
    node: opts.node ?? `agent${n}`,
    address,
    port,
    tags: opts.tags ?? [],
    passing: opts.passing ?? true,
    checks: [{ id: 'serfHealth', status: opts.passing === false ? 'critical' : 'passing' }],
  };
  if (opts.createIndex !== undefined) inst.createIndex = opts.createIndex;
  return inst;
}

/** An instance that is not registered by the bridge (plain Consul registration). */
export function plain(id: string, opts: InstanceOpts = {}): ServiceInstance {
  return mc('x', 1, { id, ...opts });
}

export function claim(service: string, value: string, createIndex = 10, key?: string): DomainClaim {
  return { key: key ?? `${settings.domainsPrefix}${service}`, value, createIndex, modifyIndex: createIndex };
}

export function server(service: string, n: number, passing = true, opts: InstanceOpts = {}): ServerRoute {
  const i = mc(service, n, { passing, ...opts });
  return { name: `${i.address}:${i.port}`, id: i.id, address: i.address, port: i.port, passing };
}

/** Expected http app with every default; `custom` are the K/V hosts (sorted by the caller). */
export function httpApp(name: string, servers: ServerRoute[], over: Partial<AppRoute> = {}, custom: string[] = []): AppRoute {
  const defaultHost = `${name}.${CLUSTER}`;
  return {
    name,
    backend: `app_${name}`,
    mode: 'http',
    balance: 'roundrobin',
    httpsOnly: false,
    sticky: false,
    defaultHost,
    hosts: [defaultHost, ...custom],
    servers,
    ...over,
  };
}

export function tcpApp(name: string, port: number, servers: ServerRoute[], over: Partial<AppRoute> = {}): AppRoute {
  return {
    name,
    backend: `app_${name}`,
    mode: 'tcp',
    port,
    balance: 'roundrobin',
    httpsOnly: false,
    sticky: false,
    hosts: [],
    servers,
    ...over,
  };
}

/** [kind, service, subject, reason pattern, key?]: reasons are matched, the rest compared exactly. */
export type Rej = [RejectionKind, string, string, RegExp, string?];

export function checkRejections(t: Test, actual: readonly Rejection[], expected: Rej[]): void {
  const shape = (r: { kind: string; service: string; subject: string; key?: string | undefined }) => ({
    kind: r.kind,
    service: r.service,
    subject: r.subject,
    key: r.key,
  });
  t.strictSame(
    actual.map(shape),
    expected.map(([kind, service, subject, , key]) => shape({ kind, service, subject, key })),
    'rejections (kind, service, subject, key)',
  );
  expected.forEach(([, , subject, reason], i) => {
    t.match(actual[i]?.reason ?? '<missing>', reason, `reason for ${JSON.stringify(subject)}`);
  });
}

/** Small deterministic PRNG (mulberry32) so shuffles are random-looking yet reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffle<T>(items: readonly T[], next: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
