// The properties themselves, shared by test/property/*.test.ts and bench/fuzz.ts (tap skips
// support.ts). Every check throws a PropertyFailure naming the property; fast-check then shrinks the
// input to a small counterexample. The oracles below are written independently of src/model (plain
// regexes over the contract of DESIGN §3/§4), so they also cross-check the model's own validators.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual, promisify } from 'node:util';

import { checkConfig } from '../../src/apply/validate.js';
import { HaproxyInvalidError } from '../../src/errors.js';
import { buildModel } from '../../src/model/build.js';
import { safeText } from '../../src/model/text.js';
import { inPortRanges } from '../../src/model/port-ranges.js';
import type { AppRoute, ModelInput, Rejection, RoutingModel } from '../../src/model/types.js';
import { renderFiles } from '../../src/render/render.js';
import type { CompiledTemplates } from '../../src/render/templates.js';
import type { RenderedFiles, RenderSettings } from '../../src/render/types.js';
import type { DomainClaim, ServiceInstance } from '../../src/sources/types.js';
import { CLUSTER, ID_PREFIX, MODEL_SETTINGS, PREFIX, RESERVED_VALUES, type ConsulEvent, type FuzzCase, type Hostile, type RenderOptions } from './fixtures.js';

export class PropertyFailure extends Error {
  constructor(
    readonly property: string,
    message: string,
  ) {
    super(`[${property}] ${message}`);
    this.name = 'PropertyFailure';
  }
}

/** `haproxy -c` refused a rendered configuration. */
export class InvalidConfigFailure extends PropertyFailure {
  constructor(
    message: string,
    readonly config: string,
  ) {
    super('haproxy -c', message);
    this.name = 'InvalidConfigFailure';
  }
}

function check(ok: boolean, property: string, message: () => string): asserts ok {
  if (!ok) throw new PropertyFailure(property, message());
}

const show = (v: unknown): string => {
  const s = JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x));
  return s === undefined ? String(v) : s.length > 600 ? `${s.slice(0, 600)}...` : s;
};

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

// ---- independent oracles (DESIGN §3) ----------------------------------------------------------

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const FQDN_RE = new RegExp(`^(?:${LABEL}\\.)+${LABEL}$`);
const NAME_RE = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
const HOST_ADDRESS_RE = /^[A-Za-z0-9][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*\.?$/;
const HEALTHCHECK_RE = /^\/(?:[A-Za-z0-9._~!*+,=:@/?&-]|%[0-9A-Fa-f]{2})*$/;
const BALANCE = ['roundrobin', 'static-rr', 'leastconn', 'first', 'source', 'random', 'uri'];

/** A valid lowercase FQDN: RFC 1123 labels, ≥ 2 labels, ≤ 253 chars, TLD not all-numeric. */
export function isFqdn(host: string): boolean {
  return host.length <= 253 && FQDN_RE.test(host) && !/^[0-9]+$/.test(host.slice(host.lastIndexOf('.') + 1));
}

/** The host a K/V token stands for, or undefined when the token must be rejected. */
export function hostOfToken(token: string): string | undefined {
  if (!/^[\x21-\x7e]+$/.test(token)) return undefined;
  const host = token.toLowerCase();
  return isFqdn(host) ? host : undefined;
}

/** Commas, spaces or newlines (any whitespace) separate the FQDNs of a K/V value. */
export function tokensOf(value: string): string[] {
  return value.split(/[,\s]+/).filter((t) => t !== '');
}

const isAscii = (s: string): boolean => /^[\x00-\x7f]*$/.test(s);

/** A service name usable as the left part of `<name>.<cluster>.<base>` (ASCII before lowercasing). */
export function serviceNameOk(original: string): boolean {
  const name = original.toLowerCase();
  return isAscii(original) && NAME_RE.test(name) && `${name}.${CLUSTER}`.length <= 253;
}

/** An address HAProxy can take: an IP literal, or a host name with no empty label. */
export function addressOk(address: unknown): address is string {
  return (
    typeof address === 'string' &&
    address.length > 0 &&
    address.length <= 255 &&
    /^[A-Za-z0-9.:-]+$/.test(address) &&
    (isIP(address) !== 0 || HOST_ADDRESS_RE.test(address))
  );
}

export function portOk(port: unknown): port is number {
  return typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535;
}

export const usable = (i: ServiceInstance): boolean => addressOk(i.address) && portOk(i.port);

/** A valid `router.<flag>` / `router.<flag>=true` tag. */
function isFlag(tag: string, flag: string): boolean {
  const bare = `router.${flag}`;
  return tag === bare || (tag.startsWith(`${bare}=`) && tag.slice(bare.length + 1).toLowerCase() === 'true');
}

/** DESIGN §3: bridge-registered (ServiceID prefix) or router.expose, unless router.skip or Consul itself. */
export function routedOracle(original: string, instances: ServiceInstance[]): boolean {
  if (original.toLowerCase() === 'consul') return false;
  if (instances.some((i) => i.tags.some((t) => isFlag(t, 'skip')))) return false;
  return instances.some((i) => i.id.startsWith(ID_PREFIX) || i.tags.some((t) => isFlag(t, 'expose')));
}

/**
 * Lowercase app name → the Consul service that owns it: of the eligible originals, the one
 * registered first (lowest CreateIndex of a usable instance), then the one with more usable
 * instances, then the code-unit-smallest.
 */
export function winners(input: ModelInput): Map<string, { original: string; instances: ServiceInstance[] }> {
  const out = new Map<string, { original: string; instances: ServiceInstance[] }>();
  const rank = (instances: ServiceInstance[]) => {
    const ok = instances.filter(usable);
    const indexes = ok.map((i) => i.createIndex).filter((n): n is number => typeof n === 'number' && Number.isFinite(n));
    return { registered: indexes.length ? Math.min(...indexes) : Infinity, count: ok.length };
  };
  for (const original of Object.keys(input.services).sort(cmp)) {
    const instances = input.services[original] ?? [];
    if (!serviceNameOk(original) || !routedOracle(original, instances)) continue;
    const name = original.toLowerCase();
    const held = out.get(name);
    if (held) {
      const [a, b] = [rank(instances), rank(held.instances)];
      if (!(a.registered < b.registered || (a.registered === b.registered && a.count > b.count))) continue;
    }
    out.set(name, { original, instances });
  }
  return out;
}

/** Does some usable instance carry exactly this valid tag value (`router.<key>=<value>`)? */
function tagged(instances: ServiceInstance[], key: string, value: string, caseInsensitive = false): boolean {
  const head = `router.${key}=`;
  return instances.some(
    (i) =>
      usable(i) &&
      i.tags.some((t) => {
        if (!t.startsWith(head)) return false;
        const v = t.slice(head.length);
        return caseInsensitive ? v.toLowerCase() === value : v === value;
      }),
  );
}

// ---- (1) determinism --------------------------------------------------------------------------

/** mulberry32: shuffles that look random yet replay from the seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(items: readonly T[], next: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Same content, other order: services, instances, tags and claims. */
export function shuffled(input: ModelInput, seed: number): ModelInput {
  const next = rng(seed);
  const services = Object.fromEntries(
    shuffle(Object.entries(input.services), next).map(([name, list]) => [name, shuffle(list, next).map((i) => ({ ...i, tags: shuffle(i.tags, next) }))]),
  );
  const features = {
    ...(input.weights ? { weights: shuffle(input.weights, next) } : {}),
    ...(input.maintenance ? { maintenance: shuffle(input.maintenance, next) } : {}),
    // router.auth entries: a record, shuffled by key order.
    ...(input.auth ? { auth: Object.fromEntries(shuffle(Object.entries(input.auth), next)) } : {}),
  };
  return { services, claims: shuffle(input.claims, next), settings: input.settings, ...features };
}

function firstDifference(a: unknown, b: unknown, path = '$'): string {
  if (isDeepStrictEqual(a, b)) return '';
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) {
      const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
      if (d) return d;
    }
  }
  return `${path}: ${show(a)} != ${show(b)}`;
}

/** buildModel never throws, leaves its input alone, and depends on content only (not order). */
export function checkDeterminism(input: ModelInput, seed: number): RoutingModel {
  const before = structuredClone(input);
  let model: RoutingModel;
  try {
    model = buildModel(input);
  } catch (err) {
    throw new PropertyFailure('buildModel never throws', String((err as Error)?.stack ?? err));
  }
  check(isDeepStrictEqual(input, before), 'buildModel does not mutate its input', () => firstDifference(before, input));
  const again = buildModel(structuredClone(before));
  check(isDeepStrictEqual(again, model), 'deterministic', () => firstDifference(model, again));
  const other = buildModel(shuffled(before, seed));
  check(isDeepStrictEqual(other, model), 'order-independent (shuffled services, instances, tags, claims)', () => firstDifference(model, other));
  return model;
}

// ---- (4) model invariants ---------------------------------------------------------------------

const BREAKS_A_LINE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const MAX_REJECTION_FIELD = 4096;

const rejectionId = (kind: string, service: string, subject: string) => `${kind}\u0000${service}\u0000${subject}`;

/** The K/V candidates for every host: the oracle of "first claim wins". */
interface ClaimCandidate {
  host: string;
  app: string;
  key: string;
  index: number;
}

function claimService(key: string): string | undefined {
  if (!key.startsWith(PREFIX)) return undefined;
  const rest = key.slice(PREFIX.length);
  // Keys are exact: a key naming an app in another case claims nothing.
  if (rest === '' || rest.includes('/') || !isAscii(rest) || rest !== rest.toLowerCase()) return undefined;
  return rest;
}

function claimCandidates(claims: readonly DomainClaim[], httpApps: Set<string>): Map<string, ClaimCandidate[]> {
  const byHost = new Map<string, ClaimCandidate[]>();
  for (const c of claims) {
    const app = claimService(c.key);
    if (app === undefined || !httpApps.has(app) || typeof c.value !== 'string') continue;
    for (const token of tokensOf(c.value)) {
      const host = hostOfToken(token);
      if (host === undefined || host === CLUSTER || host.endsWith(`.${CLUSTER}`)) continue;
      const index = typeof c.createIndex === 'number' && Number.isFinite(c.createIndex) ? c.createIndex : Infinity;
      byHost.set(host, [...(byHost.get(host) ?? []), { host, app, key: c.key, index }]);
    }
  }
  for (const list of byHost.values()) list.sort((a, b) => (a.index < b.index ? -1 : a.index > b.index ? 1 : cmp(a.key, b.key)));
  return byHost;
}

/** The edge fields: only for the mode they apply to, in range, and carried by a tag. */
function checkEdgeApp(app: AppRoute, inst: ServiceInstance[], P: string): void {
  const http = app.mode === 'http';
  const carried = (key: string) => inst.some((i) => usable(i) && i.tags.some((t) => t.startsWith(`router.${key}`)));
  if (app.hsts !== undefined) {
    check(
      http && Number.isInteger(app.hsts) && app.hsts >= 0 && app.hsts <= 63072000 && tagged(inst, 'hsts', String(app.hsts)),
      P,
      () => `hsts ${show(app.hsts)} of ${app.name}`,
    );
  }
  check(
    app.hstsSubdomains === undefined || (app.hstsSubdomains === true && app.hsts !== undefined && carried('hsts-subdomains')),
    P,
    () => `hsts-subdomains of ${app.name}`,
  );
  if (app.timeoutClient !== undefined) {
    check(
      !http && /^[1-9][0-9]*(ms|s|m|h)$/.test(app.timeoutClient) && tagged(inst, 'timeout-client', app.timeoutClient, true),
      P,
      () => `timeout-client ${show(app.timeoutClient)} of ${app.name}`,
    );
  }
  if (app.timeoutConnect !== undefined) {
    check(
      /^[1-9][0-9]*(ms|s|m|h)$/.test(app.timeoutConnect) && tagged(inst, 'timeout-connect', app.timeoutConnect, true),
      P,
      () => `timeout-connect ${show(app.timeoutConnect)} of ${app.name}`,
    );
  }
  if (app.maxBody !== undefined) {
    check(
      http && Number.isSafeInteger(app.maxBody) && app.maxBody >= 1 && app.maxBody <= 64 * 1024 ** 3 && carried('max-body='),
      P,
      () => `max-body ${show(app.maxBody)} of ${app.name}`,
    );
  }
}

function checkApp(app: AppRoute, owner: { original: string; instances: ServiceInstance[] } | undefined): void {
  const P = 'apps come from routed services, with values from their tags';
  check(owner !== undefined, P, () => `app ${show(app.name)} has no routed Consul service with a valid name`);
  check(app.backend === `app_${app.name}` && /^[a-z0-9.-]+$/.test(app.name), P, () => `backend ${show(app.backend)}`);
  const inst = owner.instances;
  if (app.mode === 'http') {
    check(app.defaultHost === `${app.name}.${CLUSTER}` && app.hosts[0] === app.defaultHost, P, () => `default host of ${app.name}`);
    check(app.port === undefined, P, () => `http app ${app.name} has a port`);
  } else {
    check(app.hosts.length === 0 && app.defaultHost === undefined, P, () => `tcp app ${app.name} has hosts`);
    check(portOk(app.port) && !MODEL_SETTINGS.reservedPorts.includes(app.port), P, () => `tcp port ${app.port}`);
    check(inPortRanges(app.port, MODEL_SETTINGS.tcpPorts), P, () => `tcp port ${app.port} outside haproxy.tcp_ports`);
    check(tagged(inst, 'port', String(app.port)), P, () => `port ${app.port} of ${app.name} from no tag`);
    check(tagged(inst, 'mode', 'tcp', true), P, () => `tcp mode of ${app.name} from no tag`);
  }
  check(BALANCE.includes(app.balance), P, () => `balance ${show(app.balance)}`);
  check(app.balance === 'roundrobin' || tagged(inst, 'balance', app.balance, true), P, () => `balance of ${app.name} from no tag`);
  if (app.healthcheck !== undefined) {
    check(
      app.healthcheck.length <= 200 && HEALTHCHECK_RE.test(app.healthcheck) && tagged(inst, 'healthcheck', app.healthcheck),
      P,
      () => `healthcheck ${show(app.healthcheck)} of ${app.name}`,
    );
  }
  if (app.timeoutServer !== undefined) {
    check(
      /^[1-9][0-9]*(ms|s|m|h)$/.test(app.timeoutServer) && tagged(inst, 'timeout-server', app.timeoutServer, true),
      P,
      () => `timeout ${show(app.timeoutServer)} of ${app.name}`,
    );
  }
  if (app.maxconn !== undefined) {
    check(
      Number.isInteger(app.maxconn) && app.maxconn >= 1 && app.maxconn <= 100000 && tagged(inst, 'maxconn', String(app.maxconn)),
      P,
      () => `maxconn ${app.maxconn} of ${app.name}`,
    );
  }
  checkEdgeApp(app, inst, P);
  const flag = (f: string) => inst.some((i) => usable(i) && i.tags.some((t) => isFlag(t, f)));
  check(!app.sticky || flag('sticky'), P, () => `sticky ${app.name} from no tag`);
  check(!app.httpsOnly || (app.mode === 'http' && flag('https-only')), P, () => `https-only ${app.name} from no tag`);

  // Servers: exactly the usable instances, one per address:port (case-insensitive address).
  const S = 'servers are exactly the usable instances';
  const expected = new Map<string, boolean>();
  for (const i of inst) {
    if (!usable(i)) continue;
    const endpoint = `${i.address.toLowerCase()}:${i.port}`;
    expected.set(endpoint, (expected.get(endpoint) ?? false) || i.passing);
  }
  const seen = new Set<string>();
  for (const s of app.servers) {
    const endpoint = `${s.address.toLowerCase()}:${s.port}`;
    check(expected.has(endpoint), S, () => `${app.name}: server ${show(s)} is no usable instance`);
    check(!seen.has(endpoint), S, () => `${app.name}: ${endpoint} twice`);
    seen.add(endpoint);
    check(expected.get(endpoint) === s.passing, S, () => `${app.name}: ${endpoint} passing=${s.passing}`);
    check(
      inst.some((i) => i.id === s.id && i.address === s.address && i.port === s.port),
      S,
      () => `${app.name}: server ${show(s)} does not match its instance`,
    );
    check(s.name === `${s.address}:${s.port}` && /^[A-Za-z0-9_.:-]+$/.test(s.name), S, () => `server name ${show(s.name)}`);
  }
  check(seen.size === expected.size, S, () => `${app.name}: ${expected.size} usable endpoints, ${seen.size} servers`);
  const names = app.servers.map((s) => s.name);
  check(isDeepStrictEqual(names, [...names].sort(cmp)), S, () => `${app.name}: servers not sorted`);
}

/**
 * Everything the model promises about one input: apps, servers and settings come from routed
 * services and their valid tags; hosts are valid, unique, never another app's default host; the
 * first claim wins; every bad input is reported on one line, naming what was wrong.
 */
export function checkModel(input: ModelInput, model: RoutingModel): void {
  const owners = winners(input);

  const names = model.apps.map((a) => a.name);
  check(isDeepStrictEqual(names, [...new Set(names)].sort(cmp)), 'apps unique and sorted', () => show(names));
  for (const app of model.apps) checkApp(app, owners.get(app.name));

  // An eligible service whose tags do not make it tcp is always an http app.
  for (const [name, { instances }] of owners) {
    const votes = (mode: string) =>
      instances.filter((i) => usable(i) && i.tags.some((t) => t.startsWith('router.mode=') && t.slice(12).toLowerCase() === mode)).length;
    if (votes('tcp') > votes('http')) continue;
    check(
      model.apps.some((a) => a.name === name && a.mode === 'http'),
      'every routed service with a valid name is an app',
      () => `${show(name)} is missing`,
    );
  }

  const ports = model.apps.flatMap((a) => (a.port === undefined ? [] : [a.port]));
  check(new Set(ports).size === ports.length, 'tcp ports unique', () => show(ports));

  // Hosts: valid, unique, sorted, each on exactly one http app.
  const H = 'each host maps to exactly one backend';
  const hosts = model.hosts.map((h) => h.host);
  check(isDeepStrictEqual(hosts, [...new Set(hosts)].sort(cmp)), H, () => 'hosts not unique and sorted');
  const defaults = new Set(model.apps.flatMap((a) => (a.defaultHost ? [a.defaultHost] : [])));
  for (const h of model.hosts) {
    check(isFqdn(h.host), 'every host is a valid lowercase FQDN', () => show(h.host));
    const app = model.apps.find((a) => a.name === h.app);
    check(app?.mode === 'http' && app.backend === h.backend && app.hosts.includes(h.host), H, () => show(h));
    if (h.source === 'default') check(h.host === app.defaultHost, H, () => show(h));
    else {
      check(!defaults.has(h.host) && h.host !== CLUSTER && !h.host.endsWith(`.${CLUSTER}`), "a custom FQDN never takes an app's default host", () => show(h));
    }
  }
  for (const app of model.apps) {
    const custom = model.hosts.filter((h) => h.app === app.name && h.source === 'kv').map((h) => h.host);
    const expected = app.mode === 'http' ? [app.defaultHost, ...custom] : [];
    check(isDeepStrictEqual(app.hosts, expected), H, () => `${app.name}: hosts ${show(app.hosts)} != ${show(expected)}`);
  }

  // First claim (lowest CreateIndex, then key) wins; every losing app gets a conflict.
  const rejections = new Set(model.rejections.map((r) => rejectionId(r.kind, r.service, r.subject)));
  const httpApps = new Set(model.apps.filter((a) => a.mode === 'http').map((a) => a.name));
  const candidates = claimCandidates(input.claims, httpApps);
  const F = 'the first claim (lowest CreateIndex) wins';
  const kv = model.hosts.filter((h) => h.source === 'kv');
  check(kv.length === candidates.size, F, () => `${kv.length} custom hosts routed, ${candidates.size} validly claimed`);
  for (const h of kv) {
    const winner = candidates.get(h.host)?.[0];
    check(winner !== undefined && winner.app === h.app && winner.key === h.key, F, () => `${show(h)}; expected ${show(winner)}`);
    for (const loser of candidates.get(h.host)!.slice(1)) {
      if (loser.app === winner.app) continue;
      check(
        rejections.has(rejectionId('conflict', safeText(loser.app), safeText(h.host))),
        'a losing claim is reported as a conflict',
        () => `${show(loser)} lost ${h.host} without a conflict`,
      );
    }
  }

  // Every rejection stays on one line, is bounded, gives a reason and names its input.
  for (const r of model.rejections) {
    for (const field of [r.service, r.subject, r.reason, r.key ?? '']) {
      check(!BREAKS_A_LINE.test(field), 'rejections stay on one log line', () => show(r));
      check(field.length <= MAX_REJECTION_FIELD, 'rejections are bounded (no 100 KB log lines)', () => `${field.length} chars`);
    }
    check(r.reason.trim() !== '', 'every rejection has a reason', () => show(r));
    // An empty subject only when the offending input is itself empty (a service named "", an
    // empty ServiceID or K/V key): Consul sends none of these, but they must not throw either.
    check(r.subject !== '' || r.kind === 'service' || r.key === '', 'every rejection names its subject', () => show(r));
  }

  // Every bad FQDN of a well-formed key, every unusable instance and every bad name is reported.
  const R = 'bad input is rejected with a reason';
  for (const c of input.claims) {
    const service = claimService(c.key);
    if (service === undefined || typeof c.value !== 'string') continue;
    for (const token of new Set(tokensOf(c.value))) {
      if (hostOfToken(token) !== undefined) continue;
      check(rejections.has(rejectionId('domain', safeText(service), safeText(token))), R, () => `bad FQDN ${show(token)} of key ${show(c.key)} not reported`);
    }
  }
  for (const [name, { instances }] of owners) {
    for (const i of instances) {
      if (usable(i)) continue;
      check(rejections.has(rejectionId('service', safeText(name), safeText(i.id))), R, () => `instance ${show(i)} of ${name} not reported`);
    }
  }
  for (const [original, instances] of Object.entries(input.services)) {
    if (serviceNameOk(original) || !routedOracle(original, instances)) continue;
    check(
      rejections.has(rejectionId('service', safeText(original), safeText(original))),
      R,
      () => `routed service with a bad name ${show(original)} not reported`,
    );
  }
}

// ---- (5) metamorphic: hostile input for one app -----------------------------------------------

export interface HostileApplied {
  input: ModelInput;
  /** The app the bad input is aimed at (lowercase service name), if any. */
  target: string | undefined;
  /** `strict`: nothing but the rejections may change. `instance`: see checkHostile. */
  expect: 'strict' | 'instance';
  what: string;
}

/** Adds one piece of bad input to `input` (whose model is `before`). */
export function applyHostile(input: ModelInput, before: RoutingModel, hostile: Hostile): HostileApplied {
  const names = Object.keys(input.services).sort(cmp);
  const pick = (n: number) => names[n % names.length]!;
  switch (hostile.kind) {
    case 'instance': {
      let name = typeof hostile.target === 'number' && names.length > 0 ? pick(hostile.target) : String(hostile.target);
      // A new service whose name collides after lowercasing is a rename, not bad input: aim at the existing one.
      name = names.find((n) => n === name) ?? names.find((n) => n.toLowerCase() === name.toLowerCase()) ?? name;
      const current = Object.hasOwn(input.services, name) ? input.services[name]! : [];
      const entries = [...Object.entries(input.services).filter(([n]) => n !== name), [name, [...current, hostile.instance]] as const];
      return {
        input: { ...input, services: Object.fromEntries(entries) },
        target: name.toLowerCase(),
        expect: 'instance',
        what: `unusable instance ${show(hostile.instance)} for ${show(name)}`,
      };
    }
    case 'tag': {
      const withInstances = names.filter((n) => (input.services[n]?.length ?? 0) > 0);
      if (withInstances.length === 0) return { input, target: undefined, expect: 'strict', what: 'nothing (no instance to tag)' };
      const name = withInstances[hostile.target % withInstances.length]!;
      const list = [...input.services[name]!];
      const at = hostile.instance % list.length;
      list[at] = { ...list[at]!, tags: [...list[at]!.tags, hostile.tag] };
      const entries = Object.entries(input.services).map(([n, l]) => [n, n === name ? list : l] as const);
      return {
        input: { ...input, services: Object.fromEntries(entries) },
        target: name.toLowerCase(),
        expect: 'strict',
        what: `invalid tag ${show(hostile.tag)} on ${show(name)}`,
      };
    }
    case 'claim': {
      const http = new Set(before.apps.filter((a) => a.mode === 'http').map((a) => a.name));
      let key = `${PREFIX}${hostile.service}`;
      let value = hostile.value;
      let variant = hostile.variant;
      // An 'unrouted' claim must name a service that is not an http app: otherwise send bad values.
      if (variant === 'unrouted' && http.has(claimService(key) ?? '')) variant = 'bad-value';
      if (variant === 'bad-key') key = hostile.key;
      if (variant === 'bad-value')
        value = tokensOf(value)
          .filter((t) => hostOfToken(t) === undefined)
          .join(' ');
      if (variant === 'reserved') value = RESERVED_VALUES.join('\n');
      const claim: DomainClaim = { key, value, createIndex: hostile.createIndex, modifyIndex: hostile.createIndex };
      return {
        input: { ...input, claims: [...input.claims, claim] },
        target: claimService(key),
        expect: 'strict',
        what: `${variant} claim ${show(claim)}`,
      };
    }
    case 'service': {
      if (Object.hasOwn(input.services, hostile.name)) return { input, target: undefined, expect: 'strict', what: 'nothing (name taken)' };
      return {
        input: { ...input, services: Object.fromEntries([...Object.entries(input.services), [hostile.name, hostile.instances]]) },
        target: undefined,
        expect: 'strict',
        what: `service with a bad name ${show(hostile.name)}`,
      };
    }
  }
}

/**
 * (4)/(5): one bad instance, tag, claim or service name never removes another app's routes.
 * Bad tags, claims and names change nothing but the rejections. An unusable instance takes no part
 * in tags, ports or claims: the other apps are unchanged, except when it is the only thing that
 * makes its service routed (DESIGN: an app whose instances are all unusable is still routed, with no
 * server), and that new app then wins what its own earlier claims or port already gave it.
 */
export function checkHostile(before: RoutingModel, applied: HostileApplied): RoutingModel {
  const after = buildModel(applied.input);
  const P = 'one bad instance/tag/claim never changes another app';
  const ctx = () => `after adding ${applied.what}`;
  const previous = before.rejections.map((r) => JSON.stringify(r));
  const now = new Set(after.rejections.map((r) => JSON.stringify(r)));
  if (applied.expect === 'strict') {
    check(isDeepStrictEqual(after.apps, before.apps), P, () => `${ctx()}: ${firstDifference(before.apps, after.apps)}`);
    check(isDeepStrictEqual(after.hosts, before.hosts), P, () => `${ctx()}: ${firstDifference(before.hosts, after.hosts)}`);
    check(
      previous.every((r) => now.has(r)),
      'bad input only adds rejections',
      () => `${ctx()}: lost a rejection`,
    );
    return after;
  }
  const target = applied.target;
  const wasApp = before.apps.find((a) => a.name === target);
  const isApp = after.apps.find((a) => a.name === target);
  if (wasApp && isApp) {
    check(isDeepStrictEqual(isApp, wasApp), 'an unusable instance changes nothing about its app', () => `${ctx()}: ${firstDifference(wasApp, isApp)}`);
  }
  const takenHosts = new Set(isApp?.hosts ?? []);
  for (const other of before.apps) {
    if (other.name === target) continue;
    const still = after.apps.find((a) => a.name === other.name);
    if (!still) {
      check(!wasApp && isApp?.mode === 'tcp' && isApp.port === other.port, P, () => `${ctx()}: app ${other.name} disappeared`);
      continue;
    }
    const { hosts: h1, ...rest1 } = other;
    const { hosts: h2, ...rest2 } = still;
    check(isDeepStrictEqual(rest2, rest1), P, () => `${ctx()}: ${firstDifference(rest1, rest2)}`);
    const lost = h1.filter((h) => !h2.includes(h));
    check(
      lost.every((h) => !wasApp && takenHosts.has(h)),
      P,
      () => `${ctx()}: app ${other.name} lost hosts ${show(lost)}`,
    );
  }
  return after;
}

// ---- Consul event sequences -------------------------------------------------------------------

function maxIndex(input: ModelInput): number {
  let max = 0;
  const see = (n: unknown) => {
    if (typeof n === 'number' && Number.isFinite(n) && n > max) max = n;
  };
  for (const list of Object.values(input.services)) for (const i of list) see(i.createIndex);
  for (const c of input.claims) {
    see(c.createIndex);
    see(c.modifyIndex);
  }
  return Math.floor(max);
}

/** Applies one Consul event the way Consul would: new registrations and keys get a fresh index. */
export function applyEvent(input: ModelInput, event: ConsulEvent): { input: ModelInput; what: string; fresh?: string } {
  const index = maxIndex(input) + 1;
  const names = Object.keys(input.services)
    .sort(cmp)
    .filter((n) => (input.services[n]?.length ?? 0) > 0);
  const entries = Object.entries(input.services);
  const withService = (name: string, list: ServiceInstance[] | undefined) => {
    const rest = entries.filter(([n]) => n !== name);
    return Object.fromEntries(list === undefined || list.length === 0 ? rest : [...rest, [name, list]]);
  };
  const at = (service: number, instance: number) => {
    const name = names[service % names.length]!;
    const list = input.services[name]!;
    return { name, list, i: instance % list.length };
  };
  switch (event.type) {
    case 'register': {
      const current = Object.hasOwn(input.services, event.service) ? input.services[event.service]! : [];
      const same = current.findIndex((i) => i.id === event.instance.id);
      const inst = { ...event.instance, createIndex: same === -1 ? index : (current[same]!.createIndex ?? index) };
      const list = same === -1 ? [...current, inst] : current.map((i, n) => (n === same ? inst : i));
      return {
        input: { ...input, services: withService(event.service, list) },
        what: `register ${show(inst.id)} in ${show(event.service)}`,
        ...(current.length === 0 ? { fresh: event.service } : {}),
      };
    }
    case 'deregister': {
      if (names.length === 0) return { input, what: 'nothing' };
      const { name, list, i } = at(event.service, event.instance);
      return {
        input: {
          ...input,
          services: withService(
            name,
            list.filter((_, n) => n !== i),
          ),
        },
        what: `deregister ${name}#${i}`,
      };
    }
    case 'check':
    case 'retag': {
      if (names.length === 0) return { input, what: 'nothing' };
      const { name, list, i } = at(event.service, event.instance);
      const changed =
        event.type === 'check'
          ? { ...list[i]!, passing: event.passing, checks: [{ id: 'serfHealth', status: event.passing ? 'passing' : 'critical' }] }
          : { ...list[i]!, tags: event.tags };
      return {
        input: {
          ...input,
          services: withService(
            name,
            list.map((x, n) => (n === i ? changed : x)),
          ),
        },
        what: `${event.type} ${name}#${i}`,
      };
    }
    case 'kv-put': {
      const key = typeof event.key === 'number' ? (input.claims.length > 0 ? input.claims[event.key % input.claims.length]!.key : PREFIX + 'web') : event.key;
      const existing = input.claims.find((c) => c.key === key);
      const claim: DomainClaim = { key, value: event.value, createIndex: existing?.createIndex ?? index, modifyIndex: index };
      return {
        input: { ...input, claims: [...input.claims.filter((c) => c.key !== key), claim] },
        what: `kv put ${show(key)}`,
        ...(existing ? {} : { fresh: key }),
      };
    }
    case 'kv-delete': {
      if (input.claims.length === 0) return { input, what: 'nothing' };
      const key = input.claims[event.key % input.claims.length]!.key;
      return { input: { ...input, claims: input.claims.filter((c) => c.key !== key) }, what: `kv delete ${show(key)}` };
    }
  }
}

/** What a single event may change (beyond the per-state properties). */
export function checkTransition(
  before: { input: ModelInput; model: RoutingModel },
  event: ConsulEvent,
  applied: { input: ModelInput; what: string; fresh?: string },
  after: RoutingModel,
): void {
  const ctx = () => `after ${applied.what}`;
  const owner = (m: RoutingModel) => new Map(m.hosts.map((h) => [h.host, h]));
  if (event.type === 'check') {
    // A health flap only flips `passing` on servers: routes, hosts and settings stay put.
    const strip = (m: RoutingModel) => ({ ...m, apps: m.apps.map((a) => ({ ...a, servers: a.servers.map((s) => ({ ...s, passing: false })) })) });
    check(
      isDeepStrictEqual(strip(after), strip(before.model)),
      'a check status change only toggles servers',
      () => `${ctx()}: ${firstDifference(strip(before.model), strip(after))}`,
    );
  }
  if (event.type === 'kv-put' && applied.fresh !== undefined) {
    // A new key has the highest CreateIndex: it can never take a host another key already routes.
    const was = owner(before.model);
    const now = owner(after);
    for (const [host, h] of was) {
      if (h.source !== 'kv') continue;
      const claim = before.input.claims.find((c) => c.key === h.key);
      if (!claim || !Number.isFinite(claim.createIndex)) continue;
      check(now.get(host)?.app === h.app, 'a later kv put never steals a live host', () => `${ctx()}: ${host} moved from ${h.app} to ${show(now.get(host))}`);
    }
  }
  if (event.type === 'kv-delete') {
    // Deleting a key frees its own hosts only: every host routed through another key stays put.
    const now = owner(after);
    const kept = new Set(applied.input.claims.map((c) => c.key));
    for (const h of before.model.hosts) {
      if (h.source !== 'kv' || !kept.has(h.key!)) continue;
      check(
        now.get(h.host)?.app === h.app,
        'deleting a key only frees its own hosts',
        () => `${ctx()}: ${h.host} moved from ${h.app} to ${show(now.get(h.host))}`,
      );
    }
  }
  if (event.type === 'register' && applied.fresh !== undefined) {
    // A newly registered service (fresh CreateIndex) never takes anything from a running app:
    // unless it collides with one after lowercasing or an earlier K/V claim of its own comes alive.
    const name = applied.fresh.toLowerCase();
    const collides = Object.keys(before.input.services).some((n) => n.toLowerCase() === name);
    const hasClaims = before.input.claims.some((c) => claimService(c.key) === name);
    if (collides || hasClaims) return;
    const owners = winners(before.input);
    for (const app of before.model.apps) {
      const finite = (owners.get(app.name)?.instances ?? []).some((i) => usable(i) && Number.isFinite(i.createIndex));
      if (!finite && app.mode === 'tcp') continue; // no CreateIndex at all: sorts after any registration
      const still = after.apps.find((a) => a.name === app.name);
      check(isDeepStrictEqual(still, app), 'registering a new service never changes running apps', () => `${ctx()}: ${firstDifference(app, still)}`);
    }
  }
}

// ---- (2)/(3) render ---------------------------------------------------------------------------

export interface RenderPaths {
  configDir: string;
  crtList: string;
}

export const STATIC_PATHS: RenderPaths = { configDir: '/etc/haproxy/paas-router', crtList: '/etc/haproxy/paas-router-tls/crt-list' };

export function renderSettings(model: RoutingModel, opts: RenderOptions, paths: RenderPaths): RenderSettings {
  const settings: RenderSettings = {
    configDir: paths.configDir,
    runtimeSocket: join(paths.configDir, 'rt.sock'),
    bindAddress: opts.bindAddress,
    httpPort: 80,
    httpsPort: 443,
    statsPort: 8404,
    hardStopAfter: '30s',
  };
  if (opts.maxOldWorkers !== null) settings.maxOldWorkers = opts.maxOldWorkers;
  if (opts.edge) {
    const { maxconn, ...edge } = opts.edge;
    settings.edge = edge;
    if (maxconn !== null) settings.maxconn = maxconn;
  }
  if (opts.stats) settings.stats = opts.stats;
  if (opts.tls !== 'none') {
    const hosts = model.hosts.map((h) => h.host).filter((_, i) => opts.tls === 'all' || i % 2 === 0);
    settings.tls = { crtList: paths.crtList, coveredHosts: [...hosts, 'not-routed.example.org'] };
  }
  return settings;
}

/** renderFiles never throws for a model buildModel produced. */
export function renderModel(templates: CompiledTemplates, model: RoutingModel, settings: RenderSettings): RenderedFiles {
  try {
    return renderFiles(templates, model, settings);
  } catch (err) {
    throw new PropertyFailure('rendering never throws for a built model', String((err as Error)?.message ?? err));
  }
}

/** Lines every configuration has whatever the model: the template's own text. */
export function skeletonLines(templates: CompiledTemplates, settings: RenderSettings): Set<string> {
  const empty: RoutingModel = { apps: [], hosts: [], rejections: [] };
  const { tls, ...rest } = settings;
  const files = renderFiles(templates, empty, tls ? { ...rest, tls: { ...tls, coveredHosts: [] } } : rest);
  return new Set(files['haproxy.cfg']!.split('\n'));
}

/** HAProxy's unquoted-word unescaping (configuration manual §2.2), to bytes. */
function unescapeWord(word: string): Buffer {
  const bytes: number[] = [];
  const raw = Buffer.from(word, 'latin1');
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c !== 0x5c) {
      bytes.push(c);
      continue;
    }
    const next = raw[i + 1];
    if (next === 0x78 && /^[0-9a-fA-F]{2}$/.test(word.slice(i + 2, i + 4))) {
      bytes.push(parseInt(word.slice(i + 2, i + 4), 16));
      i += 3;
    } else if (next !== undefined) {
      bytes.push(next);
      i += 1;
    }
  }
  return Buffer.from(bytes);
}

const PRINTABLE = /^[\x20-\x7e]*$/;
const SPECIALS = /[#"'`\\$;]/;
/** Per-app edge lines whose quotes are the template's own and whose data is numbers only. */
const EDGE_TEMPLATE_LINES = [
  /^ {4}http-response set-header Strict-Transport-Security "max-age=[0-9]+(; includeSubDomains)?" if \{ ssl_fc \}$/,
  /^ {4}http-request deny status 413 content-type text\/plain string "Request body too large\.\\n" if \{ req\.hdr_val\(content-length\) gt [0-9]+ \}$/,
  /^ {4}http-request deny status 411 content-type text\/plain string "Length required: send a Content-Length\.\\n" if \{ req\.hdr\(transfer-encoding\) -m found \}$/,
];
const BACKEND_RE = /^app_[a-z0-9.-]+$/;
const MAX_WORDS = 64; // HAProxy 2.6 MAX_LINE_ARGS: more words on one line is a fatal error

/**
 * (3) Nothing reaches the configuration unescaped: printable ASCII only; valid lowercase hosts;
 * fixed-prefix backend names; servers from usable instances; no quote or `#` from input; no rejected
 * text; no line HAProxy would refuse for its word count.
 */
export function checkRendered(input: ModelInput, model: RoutingModel, files: RenderedFiles, settings: RenderSettings, skeleton: Set<string>): void {
  const P = 'no input reaches the config unescaped';
  check(isDeepStrictEqual(Object.keys(files).sort(), ['haproxy.cfg', 'hosts.map', 'maintenance.map']), P, () => show(Object.keys(files)));
  // maintenance.map: `app_<name> <base64>` per http app in maintenance, nothing else.
  const maintLines = files['maintenance.map']!.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  const inMaintenance = model.apps
    .filter((a) => a.maintenance !== undefined && a.mode === 'http')
    .map((a) => `${a.backend} ${Buffer.from(a.maintenance!.message).toString('base64')}`);
  check(isDeepStrictEqual(maintLines, inMaintenance), 'maintenance.map is the model, line for line (base64 only)', () =>
    firstDifference(inMaintenance, maintLines),
  );
  const cfg = files['haproxy.cfg']!;
  const map = files['hosts.map']!;
  for (const [file, text] of Object.entries(files)) {
    check(text.endsWith('\n'), P, () => `${file} does not end with a newline`);
    text.split('\n').forEach((line, n) => {
      check(PRINTABLE.test(line), 'only printable ASCII in the rendered files', () => `${file}:${n + 1}: ${show(line)}`);
    });
  }

  const mapLines = map.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  const expectedMap = model.hosts.filter((h) => h.path === undefined).map((h) => `${h.host} ${h.backend}`);
  check(isDeepStrictEqual(mapLines, expectedMap), 'hosts.map is the model, line for line', () => firstDifference(expectedMap, mapLines));
  for (const line of mapLines) {
    const [host, backend, ...extra] = line.split(' ');
    check(extra.length === 0 && isFqdn(host!) && BACKEND_RE.test(backend!), 'hosts.map: valid host, app_ backend', () => show(line));
  }

  const owners = winners(input);
  const apps = new Map(model.apps.map((a) => [a.backend, a]));
  const proxies = new Set<string>();
  let proxy: AppRoute | undefined;
  const hostile = model.rejections.map((r) => r.subject).filter((s) => s.length >= 4 && !s.includes('\\') && /[#"'`$;%=<>|&*[\]]/.test(s));
  const data: string[] = [];
  for (const line of cfg.split('\n')) {
    const section = /^(backend|listen|frontend) (\S+)$/.exec(line);
    if (section) {
      const [, type, name] = section as unknown as [string, string, string];
      check(!proxies.has(name), P, () => `proxy ${name} twice`);
      proxies.add(name);
      const ok = type === 'frontend' ? name === 'http_in' || name === 'https_in' : name === 'be_default' || name === 'stats' || BACKEND_RE.test(name);
      check(ok, 'backend names are app_<name> or be_default', () => show(line));
      proxy = apps.get(name);
      check(name === 'be_default' || name === 'stats' || type === 'frontend' || proxy !== undefined, P, () => `${name} is no app`);
      check(!proxy || (proxy.mode === 'tcp') === (type === 'listen'), P, () => `${line} for a ${proxy?.mode} app`);
    } else if (/^\S/.test(line) && !line.startsWith('#')) {
      proxy = undefined;
    }
    const trimmed = line.trim();
    if (trimmed !== '' && !trimmed.startsWith('#')) {
      check(
        trimmed.split(/\s+/).length <= MAX_WORDS,
        `HAProxy takes at most ${MAX_WORDS} words per line`,
        () => `${trimmed.split(/\s+/).length} words: ${show(line)}`,
      );
    }
    const server = /^ {4}server (\S+) (\S+)((?: \S+)*)$/.exec(line);
    if (server) {
      const [, name, endpoint, options] = server as unknown as [string, string, string, string];
      const S = "every server line's name and address come from a usable instance";
      check(proxy !== undefined, S, () => `server outside an app: ${show(line)}`);
      const route = proxy.servers.find((s) => s.name === name);
      check(route !== undefined, S, () => `${show(line)} is not a server of ${proxy!.name}`);
      const bare = endpoint.startsWith('ipv6@') ? endpoint.slice(5) : endpoint;
      const colon = bare.lastIndexOf(':');
      const address = bare.slice(0, colon);
      const port = Number(bare.slice(colon + 1));
      const instances = owners.get(proxy.name)?.instances ?? [];
      check(
        instances.some((i) => usable(i) && i.address.replace(/^\[|\]$/g, '').toLowerCase() === address.toLowerCase() && i.port === port) && route.port === port,
        S,
        () => `${show(line)} matches no usable instance of ${proxy!.name}`,
      );
      check(
        /^(?: check| cookie [0-9a-f]{16}| maxconn [0-9]+| weight [0-9]{1,3}| disabled)*$/.test(options),
        S,
        () => `unexpected server options ${show(options)}`,
      );
    }
    if (line.startsWith('    stats auth ')) {
      const word = line.slice('    stats auth '.length);
      check(!/(?<!\\)\s/.test(word), P, () => `stats auth is not one word: ${show(line)}`);
      const stats = settings.stats!;
      check(
        unescapeWord(word).equals(Buffer.from(`${stats.user}:${stats.password}`)),
        'stats credentials read back byte for byte',
        () => `${show(word)} != ${show(`${stats.user}:${stats.password}`)}`,
      );
      continue;
    }
    if (skeleton.has(line) || EDGE_TEMPLATE_LINES.some((re) => re.test(line))) continue;
    // The maintenance rule of an http backend: fixed text around the (checked) backend name.
    const map = `${settings.configDir}/maintenance.map`;
    const maintenanceRule =
      proxy && proxy.mode === 'http'
        ? `    http-request return status 503 content-type "text/plain; charset=utf-8" hdr Retry-After 120 hdr Cache-Control no-store lf-string "%[str(${proxy.backend}),map(${map}),b64dec]\\n" if { str(${proxy.backend}),map(${map}) -m found }`
        : undefined;
    if (line === maintenanceRule) continue;
    data.push(line);
    const text = trimmed.startsWith('#') ? trimmed.slice(1) : line;
    check(!SPECIALS.test(text), 'no quote, #, backslash, $ or ; from input', () => show(line));
  }
  const joined = `${data.join('\n')}\n${map}`;
  for (const s of hostile) {
    check(!joined.includes(s), 'no rejected text reaches the config', () => `${show(s)} found`);
  }
  const backends = new Set(model.apps.map((a) => a.backend));
  for (const b of backends) check(proxies.has(b), P, () => `app ${b} not rendered`);
}

// ---- (2) real haproxy -c ----------------------------------------------------------------------

const run = promisify(execFile);
export const HAPROXY = process.env.HAPROXY_BIN ?? 'haproxy';

/** A directory with a self-signed certificate and a crt-list, so TLS configurations can be checked. */
export async function makeWorkDir(): Promise<{ dir: string; crtList: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'paas-router-prop-'));
  const tls = join(dir, 'tls');
  await mkdir(tls);
  const pem = join(tls, 'default.pem');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=default.example.org',
    '-keyout',
    join(tls, 'key.pem'),
    '-out',
    join(tls, 'cert.pem'),
  ]);
  await writeFile(pem, `${await readFile(join(tls, 'cert.pem'), 'utf8')}${await readFile(join(tls, 'key.pem'), 'utf8')}`, {
    mode: 0o600,
  });
  const crtList = join(tls, 'crt-list');
  await writeFile(crtList, `${pem}\n`);
  return { dir, crtList, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

let counter = 0;

/** Writes the files into a fresh directory (the configDir they were rendered for) and runs `haproxy -c`. */
export async function haproxyCheck(files: RenderedFiles, configDir: string): Promise<void> {
  await mkdir(configDir, { recursive: true });
  for (const [name, content] of Object.entries(files)) await writeFile(join(configDir, name), content, { mode: 0o600 });
  try {
    await checkConfig(HAPROXY, join(configDir, 'haproxy.cfg'));
  } catch (err) {
    const output = err instanceof HaproxyInvalidError ? err.output : String(err);
    const alerts = output
      .split('\n')
      .filter((l) => l.includes('[ALERT]'))
      .slice(0, 5)
      .join('\n');
    throw new InvalidConfigFailure(`haproxy -c refused the rendered configuration:\n${alerts || output}`, files['haproxy.cfg']!);
  } finally {
    await rm(configDir, { recursive: true, force: true });
  }
}

export function nextConfigDir(workDir: string): string {
  return join(workDir, `c${counter++}`);
}

// ---- one whole case ---------------------------------------------------------------------------

export interface CaseStats {
  rejections: Partial<Record<Rejection['kind'], number>>;
  apps: number;
  hosts: number;
  models: number;
}

export function newStats(): CaseStats {
  return { rejections: {}, apps: 0, hosts: 0, models: 0 };
}

function tally(stats: CaseStats | undefined, model: RoutingModel): void {
  if (!stats) return;
  stats.models++;
  stats.apps += model.apps.length;
  stats.hosts += model.hosts.length;
  for (const r of model.rejections) stats.rejections[r.kind] = (stats.rejections[r.kind] ?? 0) + 1;
}

/**
 * Every synchronous property on one case: (1) determinism, (4) invariants, (5) hostile input, the
 * event sequence, and (3) the rendered text. Returns what `haproxy -c` should check.
 */
export function runCase(
  templates: CompiledTemplates,
  c: FuzzCase,
  paths: RenderPaths = STATIC_PATHS,
  stats?: CaseStats,
): { model: RoutingModel; files: RenderedFiles; settings: RenderSettings } {
  const model = checkDeterminism(c.input, c.shuffleSeed);
  checkModel(c.input, model);
  tally(stats, model);

  const applied = applyHostile(c.input, model, c.hostile);
  const hostileModel = checkHostile(model, applied);
  checkModel(applied.input, hostileModel);
  tally(stats, hostileModel);

  let state = { input: c.input, model };
  for (const event of c.events) {
    const next = applyEvent(state.input, event);
    let after: RoutingModel;
    try {
      after = buildModel(next.input);
    } catch (err) {
      throw new PropertyFailure('buildModel never throws', `after ${next.what}: ${String((err as Error)?.stack ?? err)}`);
    }
    checkModel(next.input, after);
    checkTransition(state, event, next, after);
    tally(stats, after);
    state = { input: next.input, model: after };
  }

  // Render the state the sequence ended in (every state is a model buildModel produced).
  const settings = renderSettings(state.model, c.render, paths);
  const files = renderModel(templates, state.model, settings);
  checkRendered(state.input, state.model, files, settings, skeletonLines(templates, settings));
  return { model: state.model, files, settings };
}
