// Ownership as a property: random sequences of tenants' registrations and K/V writes (domains,
// delegations, weights), hostile ones included (any CreateIndex, keys in another case, a group
// named like a service), with two routers recording owners after every step through an in-memory
// K/V that does what Consul's check-and-set does. Invariant: an app never loses a name it held
// to a later claimant while it still asks for it; routing always follows the recorded owner.
import fc from 'fast-check';
import { planClaimWrites } from '../../src/claims/plan.js';
import { buildModel } from '../../src/model/build.js';
import type { KvEntry, ModelInput, OwnedName, RoutingModel } from '../../src/model/types.js';
import type { ServiceInstance } from '../../src/sources/types.js';
import { MODEL_SETTINGS } from './fixtures.js';
import { PropertyFailure } from './support.js';

const APPS = ['web', 'blog', 'shop-a', 'shop-b', 'evil', 'shop', 'Web'] as const;
const HOSTS = ['www.example.org', 'example.org', 'shop.example.org'] as const;
const GRACE_MS = 3_600_000;
const CLAIMS = 'paas-router/claims/';

export type ClaimEvent =
  | { type: 'register'; app: (typeof APPS)[number]; group?: string; port?: number; path?: string; createIndex?: number }
  | { type: 'deregister'; app: (typeof APPS)[number] }
  | { type: 'domains'; app: string; hosts: string[] }
  | { type: 'delegate'; owner: string; host: string; path: string; to: string }
  | { type: 'weights'; group: string; apps: string[] }
  | { type: 'time' };

const appArb = fc.constantFrom(...APPS);
export const claimEventArb: fc.Arbitrary<ClaimEvent> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record(
      {
        type: fc.constant('register' as const),
        app: appArb,
        group: fc.constantFrom('shop', 'web'),
        port: fc.constantFrom(10001, 10002),
        path: fc.constantFrom('/admin', '/blog'),
        // An attacker may hold an instance with any (old) CreateIndex.
        createIndex: fc.integer({ min: 1, max: 1000 }),
      },
      { requiredKeys: ['type', 'app'] },
    ),
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('deregister' as const), app: appArb }) },
  {
    weight: 3,
    arbitrary: fc.record({
      type: fc.constant('domains' as const),
      app: fc.constantFrom('web', 'blog', 'evil', 'shop', 'Web', 'shop-a'),
      hosts: fc.subarray([...HOSTS]),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('delegate' as const),
      owner: fc.constantFrom('web', 'evil', 'blog'),
      host: fc.constantFrom(...HOSTS),
      path: fc.constantFrom('/admin', '/blog'),
      to: fc.constantFrom('blog', 'evil', 'web'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('weights' as const),
      group: fc.constantFrom('shop', 'web'),
      apps: fc.subarray(['shop-a', 'shop-b', 'evil', 'web']),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ type: 'time' as const }) },
);
export const claimSequenceArb = fc.array(claimEventArb, { minLength: 1, maxLength: 16 });

/** A Consul K/V with its raft index, doing check-and-set as Consul does. */
class MemoryKv {
  readonly entries = new Map<string, KvEntry>();
  constructor(private readonly raft: { index: number }) {}

  put(key: string, value: string, cas?: number): boolean {
    const current = this.entries.get(key);
    if (cas !== undefined && (cas === 0 ? current !== undefined : current?.modifyIndex !== cas)) return false;
    const index = ++this.raft.index;
    this.entries.set(key, { key, value, createIndex: current?.createIndex ?? index, modifyIndex: index });
    return true;
  }

  delete(key: string, cas: number): boolean {
    if (this.entries.get(key)?.modifyIndex !== cas) return false;
    this.entries.delete(key);
    return true;
  }

  under(prefix: string): KvEntry[] {
    return [...this.entries.values()].filter((e) => e.key.startsWith(prefix));
  }
}

interface World {
  raft: { index: number };
  kv: MemoryKv;
  services: Record<string, ServiceInstance[]>;
  now: number;
}

function inputOf(w: World): ModelInput {
  return {
    services: w.services,
    claims: w.kv.under(MODEL_SETTINGS.domainsPrefix),
    settings: MODEL_SETTINGS,
    weights: w.kv.under('paas-router/weights/'),
    claimRecords: w.kv.under(CLAIMS),
    delegations: w.kv.under('paas-router/paths/'),
  };
}

function apply(w: World, e: ClaimEvent): void {
  if (e.type === 'register') {
    const tags = [
      ...(e.group ? [`router.group=${e.group}`] : []),
      ...(e.port ? ['router.mode=tcp', `router.port=${e.port}`] : []),
      ...(e.path && !e.port ? [`router.path=${e.path}`] : []),
    ];
    const instance: ServiceInstance = {
      id: `mesos-consul:agent1:${e.app}:10.0.0.1:31000`,
      node: 'agent1',
      address: '10.0.0.1',
      port: 31000,
      tags,
      passing: true,
      checks: [{ id: 'serfHealth', status: 'passing' }],
      createIndex: e.createIndex ?? ++w.raft.index,
    };
    w.services = { ...w.services, [e.app]: [instance] };
  } else if (e.type === 'deregister') {
    const { [e.app]: _, ...rest } = w.services;
    w.services = rest;
  } else if (e.type === 'domains') {
    w.kv.put(`${MODEL_SETTINGS.domainsPrefix}${e.app}`, e.hosts.join(' '));
  } else if (e.type === 'delegate') {
    w.kv.put(`paas-router/paths/${e.owner}`, `${e.host}${e.path}=${e.to}`);
  } else if (e.type === 'weights') {
    w.kv.put(`paas-router/weights/${e.group}`, e.apps.map((a) => `${a}=1`).join(' '));
  } else {
    w.now += GRACE_MS + 1;
  }
}

/** One router's recorder pass: its plan, written with check-and-set. */
function record(w: World, owners: readonly OwnedName[]): number {
  let written = 0;
  for (const write of planClaimWrites(owners, w.now, GRACE_MS)) {
    const ok = write.op === 'put' ? w.kv.put(write.key, JSON.stringify(write.value), write.cas) : w.kv.delete(write.key, write.cas);
    if (ok) written++;
  }
  return written;
}

function fail(what: string, detail: string): never {
  throw new PropertyFailure('an app never loses a name it holds to a later claimant', `${what}: ${detail}`);
}

/** Which app is served each name now: route names and tcp ports from the apps, hosts from the host routes. */
function servedBy(model: RoutingModel): Map<string, string> {
  const out = new Map<string, string>();
  for (const o of model.owners ?? []) if (o.ownerAsks && (o.kind !== 'name' || model.apps.some((a) => a.name === o.name))) out.set(o.key, o.owner);
  return out;
}

/** Runs a sequence; throws a PropertyFailure on the first broken invariant. */
export function runClaimSequence(events: ClaimEvent[]): void {
  const raft = { index: 100 };
  const w: World = { raft, kv: new MemoryKv(raft), services: {}, now: 1_000_000 };
  let stale: ModelInput | undefined;
  let before = new Map<string, string>();
  for (const [step, e] of events.entries()) {
    apply(w, e);
    // Two routers: one current, one a step behind (its view of the catalog and K/V is stale).
    let model = buildModel(inputOf(w));
    for (let round = 0; round < 20; round++) {
      const n = record(w, model.owners ?? []) + (stale ? record(w, buildModel({ ...stale, claimRecords: w.kv.under(CLAIMS) }).owners ?? []) : 0);
      model = buildModel(inputOf(w));
      if (n === 0) break;
    }
    const after = servedBy(model);
    const owners = new Map((model.owners ?? []).map((o) => [o.key, o]));
    for (const [key, holder] of before) {
      const now = owners.get(key);
      if (!now) continue;
      const stillAsks = now.owner === holder || now.others.includes(holder);
      if (stillAsks && now.owner !== holder) fail(`step ${step} (${JSON.stringify(e)})`, `${key} went from ${holder} to ${now.owner}`);
    }
    // Routing follows the owner: a custom host without a path is served by its owner only.
    for (const h of model.hosts) {
      if (h.source !== 'kv' || h.path !== undefined) continue;
      const owner = owners.get(`${CLAIMS}hosts/${h.host}`);
      if (!owner || owner.owner !== h.app) fail(`step ${step}`, `${h.host} routes to ${h.app}, owned by ${owner?.owner ?? 'nobody'}`);
    }
    before = after;
    stale = inputOf(w);
  }
}
