// The incremental-equals-scratch property, shared by test/property/incremental.test.ts and
// bench/fuzz.ts: a sequence of Consul and K/V events goes through one long-lived ModelMemo and
// RenderCache; after every step the model and the files must equal a from-scratch build of the
// same state (buildModel and renderFiles without a memo or cache).
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';

import { planFromData } from '../../../src/apply/runtime/model-plan.js';
import { parseFiles } from '../../../src/apply/runtime/parse.js';
import { planRuntime, type RuntimeOp } from '../../../src/apply/runtime/plan.js';
import { buildModel } from '../../../src/model/build.js';
import type { TemplateData } from '../../../src/render/views.js';
import { ModelMemo } from '../../../src/model/incremental.js';
import type { KvEntry, ModelInput, RoutingModel } from '../../../src/model/types.js';
import { RenderCache } from '../../../src/render/incremental.js';
import { renderFiles } from '../../../src/render/render.js';
import type { CompiledTemplates } from '../../../src/render/templates.js';
import type { RenderedFiles } from '../../../src/render/types.js';
import { eventArb, inputArb, renderOptionsArb, type ConsulEvent, type RenderOptions } from '../fixtures.js';
import { PropertyFailure, STATIC_PATHS, applyEvent, renderSettings } from '../support.js';

/**
 * The K/V the global stage reads besides the domains: an ownership record put or deleted, the
 * group's weights key put. A record names one of the state's services (`target`, `owner` and
 * `members` pick them by position), the group `grp`, a custom host of a claim or a tcp port; some
 * records are bad (the recorder rewrites those).
 */
export type KvStep =
  | {
      put: 'name' | 'group' | 'host' | 'port' | 'bad';
      target: number;
      owner: number | string | null;
      group: boolean;
      members: number[] | null;
      idle: number | null;
      junk: string | null;
    }
  | { delete: number }
  | { weights: [number, number][] };

/** One step: an event, a K/V record change, a service joining or leaving group `grp`, or a fresh read of the same state (equal data, new arrays). */
export type Step = { event: ConsulEvent } | { kv: KvStep } | { group: { service: number; join: boolean } } | { reread: true } | { render: RenderOptions };

const RECORDS = 'paas-router/claims/';
const GROUP_TAG = 'router.group=grp';
const TCP_PORTS = [10000, 10001, 10002, 10003, 10999, 11000, 2181];
const putArb = fc.record({
  put: fc.constantFrom('name', 'name', 'name', 'group', 'host', 'port', 'bad') as fc.Arbitrary<'name' | 'group' | 'host' | 'port' | 'bad'>,
  target: fc.nat(),
  // null: the service the record is about (a name's own holder).
  owner: fc.oneof(
    { weight: 3, arbitrary: fc.constant(null) },
    { weight: 2, arbitrary: fc.nat() },
    { weight: 1, arbitrary: fc.constantFrom('grp', 'web', 'Web') },
  ),
  group: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  members: fc.option(fc.array(fc.nat(), { maxLength: 3 })),
  idle: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 2_000_000_000_000 }) }),
  junk: fc.oneof(
    { weight: 7, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.constantFrom('', 'x', '{"owner":""}', '{"owner":"web","as":"solo"}', 'null', '[]', '{"owner":"web","members":"api"}') },
  ),
});
/** `<app>=<weight>` pairs: the apps are the state's services, by position. */
const weightsArb = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 256 })), { maxLength: 3 });
const kvStepArb: fc.Arbitrary<KvStep> = fc.oneof(
  { weight: 4, arbitrary: putArb },
  { weight: 1, arbitrary: fc.record({ delete: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ weights: weightsArb }) },
);

export interface IncrementalCase {
  start: ModelInput;
  render: RenderOptions;
  steps: Step[];
}

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 12, arbitrary: eventArb.map((event) => ({ event })) },
  { weight: 3, arbitrary: kvStepArb.map((kv) => ({ kv })) },
  { weight: 2, arbitrary: fc.record({ service: fc.nat(), join: fc.boolean() }).map((group) => ({ group })) },
  { weight: 1, arbitrary: fc.constant({ reread: true as const }) },
  { weight: 1, arbitrary: renderOptionsArb.map((render) => ({ render })) },
);

export const incrementalCaseArb: fc.Arbitrary<IncrementalCase> = fc.record({
  start: inputArb,
  render: renderOptionsArb,
  steps: fc.array(stepArb, { minLength: 1, maxLength: 16 }),
});

function firstDiff(a: unknown, b: unknown, path = ''): string {
  if (isDeepStrictEqual(a, b)) return '';
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null)
    return `${path}: ${JSON.stringify(a)?.slice(0, 300)} != ${JSON.stringify(b)?.slice(0, 300)}`;
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const d = firstDiff((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], `${path}.${key}`);
    if (d) return d;
  }
  return `${path}: differs`;
}

/** Result of one case: the states visited (for the real-HAProxy sample of the fuzz run). */
export interface StepResult {
  input: ModelInput;
  model: RoutingModel;
  files: RenderedFiles;
}

const opKey = (op: RuntimeOp): string => JSON.stringify(op);

/**
 * The plan from the template data must be the plan from the files: the same runtime commands (in
 * any order), or a reload when the files need one.
 */
function checkPlan(
  templates: CompiledTemplates,
  what: string,
  before: { data: TemplateData; files: RenderedFiles },
  after: { data: TemplateData; files: RenderedFiles },
): void {
  const byFiles = planRuntime(before.files, after.files);
  const byData = planFromData(templates, before.data, after.data);
  const P = 'runtime plan from the model == runtime plan from the files';
  if (byData.kind === 'unknown') throw new PropertyFailure(P, `after ${what}: the shipped templates gave no per-app text (${byData.reason})`);
  if (byFiles.kind !== byData.kind) {
    throw new PropertyFailure(
      P,
      `after ${what}: files say ${byFiles.kind} (${byFiles.kind === 'reload' ? byFiles.reason : `${byFiles.ops.length} ops`}), data says ${byData.kind} (${byData.kind === 'reload' ? byData.reason : JSON.stringify(byData.ops).slice(0, 300)})`,
    );
  }
  if (byFiles.kind === 'runtime' && byData.kind === 'runtime') {
    const x = byFiles.ops.map(opKey).sort();
    const y = byData.ops.map(opKey).sort();
    if (!isDeepStrictEqual(x, y)) throw new PropertyFailure(P, `after ${what}: ${JSON.stringify(x).slice(0, 400)} != ${JSON.stringify(y).slice(0, 400)}`);
    // What the check after the commands reads back: the hosts map of the candidate's file, each key found.
    const fileHosts = parseFiles(after.files).hosts;
    const planned = byData.desired?.hosts;
    const H = 'hosts HAProxy must hold, from the model == the hosts.map file';
    if (!planned || planned.size !== fileHosts.size || !isDeepStrictEqual([...planned], [...fileHosts]))
      throw new PropertyFailure(H, `after ${what}: ${planned?.size} entries listed, the file has ${fileHosts.size}`);
    for (const [host, backend] of fileHosts) {
      if (planned.get(host) !== backend) throw new PropertyFailure(H, `after ${what}: ${host} is found as ${planned.get(host)}, the file says ${backend}`);
      if (planned.get(`${host}.`) !== undefined) throw new PropertyFailure(H, `after ${what}: ${host}. is found, the file has no such host`);
    }
  }
}

/** Runs the steps; throws a PropertyFailure at the first state where incremental != scratch. */
export function runIncremental(templates: CompiledTemplates, c: IncrementalCase): StepResult[] {
  const memo = new ModelMemo();
  const cache = new RenderCache();
  let input = c.start;
  let options = c.render;
  const visited: StepResult[] = [];
  let previous: { data: TemplateData; files: RenderedFiles } | undefined;
  const compare = (what: string) => {
    const model = buildModel(input, memo);
    const scratch = buildModel(input);
    if (!isDeepStrictEqual(model, scratch)) {
      throw new PropertyFailure('incremental model == from-scratch model', `after ${what}: ${firstDiff(scratch, model)}`);
    }
    // The settings follow the model (certificate coverage), as the daemon's do.
    const settings = renderSettings(scratch, options, STATIC_PATHS);
    let files: RenderedFiles | undefined;
    let scratchFiles: RenderedFiles | undefined;
    let error: unknown;
    let scratchError: unknown;
    try {
      files = renderFiles(templates, model, settings, cache);
    } catch (err) {
      error = err;
    }
    try {
      scratchFiles = renderFiles(templates, scratch, settings);
    } catch (err) {
      scratchError = err;
    }
    if (String(error) !== String(scratchError) || !isDeepStrictEqual(files, scratchFiles)) {
      throw new PropertyFailure(
        'incremental render == from-scratch render',
        `after ${what}: ${firstDiff(scratchFiles ?? String(scratchError), files ?? String(error))}`,
      );
    }
    if (!files) return;
    visited.push({ input, model, files });
    const current = { data: cache.lastData!, files };
    if (previous) checkPlan(templates, what, previous, current);
    previous = current;
  };
  compare('the first build');
  for (const step of c.steps) {
    let what: string;
    if ('event' in step) {
      const next = applyEvent(input, step.event);
      input = next.input;
      what = next.what;
    } else if ('kv' in step) {
      ({ input, what } = applyKvStep(input, step.kv));
    } else if ('group' in step) {
      ({ input, what } = applyGroupStep(input, step.group));
    } else if ('reread' in step) {
      input = structuredClone(input);
      what = 'a fresh read of the same state';
    } else {
      options = step.render;
      what = 'new render settings';
    }
    compare(what);
  }
  return visited;
}

function nextIndex(input: ModelInput): number {
  let max = 0;
  for (const list of [input.claims, input.claimRecords ?? [], input.weights ?? []])
    for (const e of list) for (const n of [e.createIndex, e.modifyIndex]) if (Number.isFinite(n) && n > max) max = n;
  for (const list of Object.values(input.services)) for (const i of list) if (Number.isFinite(i.createIndex) && i.createIndex! > max) max = i.createIndex!;
  return Math.floor(max) + 1;
}

/** An ownership record put or deleted, or the weights of group grp put, with a fresh index as Consul gives. */
function applyKvStep(input: ModelInput, step: KvStep): { input: ModelInput; what: string } {
  const records = input.claimRecords ?? [];
  if ('delete' in step) {
    if (records.length === 0) return { input, what: 'nothing' };
    const key = records[step.delete % records.length]!.key;
    return { input: { ...input, claimRecords: records.filter((r) => r.key !== key) }, what: `kv delete ${key}` };
  }
  const index = nextIndex(input);
  const put = (list: readonly KvEntry[], key: string, value: string): KvEntry[] => {
    const existing = list.find((e) => e.key === key);
    return [...list.filter((e) => e.key !== key), { key, value, createIndex: existing?.createIndex ?? index, modifyIndex: index }];
  };
  const names = Object.keys(input.services).sort();
  const service = (n: number) => (names.length > 0 ? names[n % names.length]! : 'web');
  if ('weights' in step) {
    const key = 'paas-router/weights/grp';
    const value = step.weights.map(([n, w]) => `${service(n).toLowerCase()}=${w}`).join(' ');
    return { input: { ...input, weights: put(input.weights ?? [], key, value) }, what: `kv put ${key} ${JSON.stringify(value)}` };
  }
  const hosts = input.claims.map((c) => c.value.split(/[\s,]+/)[0]!.toLowerCase()).filter(Boolean);
  const name = {
    name: `names/${service(step.target).toLowerCase()}`,
    group: 'names/grp',
    host: `hosts/${hosts.length > 0 ? hosts[step.target % hosts.length] : 'www.example.org'}`,
    port: `ports/${TCP_PORTS[step.target % TCP_PORTS.length]}`,
    bad: ['names/', 'x/web', 'names/a/b'][step.target % 3],
  }[step.put];
  const owner = step.owner === null ? service(step.target) : typeof step.owner === 'number' ? service(step.owner) : step.owner;
  const value =
    step.junk ??
    JSON.stringify({
      owner,
      ...(step.group || step.put === 'group' ? { as: 'group' } : {}),
      ...(step.members ? { members: step.members.map(service) } : {}),
      ...(step.idle !== null ? { idle_since: step.idle } : {}),
    });
  const key = `${RECORDS}${name}`;
  return { input: { ...input, claimRecords: put(records, key, value) }, what: `kv put ${key} ${JSON.stringify(value)}` };
}

/** Every instance of one service gets (or loses) router.group=grp. */
function applyGroupStep(input: ModelInput, step: { service: number; join: boolean }): { input: ModelInput; what: string } {
  const names = Object.keys(input.services).sort();
  if (names.length === 0) return { input, what: 'nothing' };
  const name = names[step.service % names.length]!;
  const instances = input.services[name]!.map((i) => ({
    ...i,
    tags: step.join ? [...i.tags.filter((t) => t !== GROUP_TAG), GROUP_TAG] : i.tags.filter((t) => t !== GROUP_TAG),
  }));
  return { input: { ...input, services: { ...input.services, [name]: instances } }, what: `${name} ${step.join ? 'joins' : 'leaves'} group grp` };
}
