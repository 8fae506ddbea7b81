// Pure: the runtime plan from the difference between two builds (the template data of the running
// configuration and of the candidate), not from parsing whole rendered files back. Cost follows
// the change: unchanged apps are skipped by identity (the model memo and the render cache keep
// their objects), and only the sections of the changed apps are read, to take their server lines
// exactly as HAProxy will see them. A reload is planned whenever anything but servers and hosts
// changed: settings, an app's own settings, the set of apps, the section of an app beyond its
// server lines.
import { isDeepStrictEqual } from 'node:util';
import { MAINTENANCE_MAP_FILE, type AppView, type HostView, type TemplateData } from '../../render/views.js';
import type { CompiledTemplates } from '../../render/templates.js';
import { parseConfig, type ServerLine } from './parse.js';
import { hostsMapOf } from './map-view.js';
import { HOSTS_MAP, MAIN_CONFIG, mapOps, serverOps, type RuntimeOp, type RuntimePlan } from './plan.js';
import type { SpareClaim } from './spares.js';

/** The TemplateData fields whose change the runtime API can apply: the apps (their servers), the hosts, the maintenance map. */
type RuntimeField = keyof Pick<TemplateData, 'apps' | 'httpApps' | 'tcpApps' | 'hosts' | 'maintenance'>;
const RUNTIME_FIELDS: ReadonlySet<string> = new Set<RuntimeField>(['apps', 'httpApps', 'tcpApps', 'hosts', 'maintenance']);

function isRuntimeField(field: string): field is RuntimeField {
  return RUNTIME_FIELDS.has(field);
}

/** A runtime plan, or `unknown` when the templates hide what changed (the files are compared then). */
export type ModelPlan = RuntimePlan | { kind: 'unknown'; reason: string };

/** The spare backends the running HAProxy already serves apps from (the applier keeps them). */
export interface SpareUse {
  inUse: ReadonlySet<string>;
  /** Why no spare may be taken now (the running HAProxy's spares are not known), if so. */
  unavailable?: string;
}

function listOf(view: AppView): string {
  return view.mode === 'tcp' ? 'tcpApps' : 'httpApps';
}

/**
 * The hosts map ops from one host list to the next: both are sorted by host (code units), so one
 * merge walk pairs them, and a host whose view is the same object is skipped unread. Deletions
 * first, as mapOps orders them.
 */
function hostOps(before: readonly HostView[], after: readonly HostView[]): RuntimeOp[] {
  const deleted: RuntimeOp[] = [];
  const written: RuntimeOp[] = [];
  let i = 0;
  let j = 0;
  while (i < before.length || j < after.length) {
    const old = before[i];
    const now = after[j];
    if (old === now) {
      i++;
      j++;
    } else if (old !== undefined && now !== undefined && old.host === now.host) {
      if (old.backend !== now.backend) written.push({ op: 'map-set', key: now.host, value: now.backend });
      i++;
      j++;
    } else if (now === undefined || (old !== undefined && old.host < now.host)) {
      deleted.push({ op: 'map-del', key: old!.host });
      i++;
    } else {
      written.push({ op: 'map-add', key: now.host, value: now.backend });
      j++;
    }
  }
  return [...deleted, ...written];
}

/**
 * `unknown` when the templates do not render each app on its own (no per-app partial): the
 * caller then compares the rendered files (planRuntime).
 */
export function planFromData(templates: CompiledTemplates, before: TemplateData, after: TemplateData, spareUse?: SpareUse): ModelPlan {
  for (const t of templates.templates) {
    const allowed = t.output === MAIN_CONFIG ? [] : t.output === HOSTS_MAP ? ['hosts'] : [];
    const blocking = t.frameReads.find((f) => f === '*' || (isRuntimeField(f) && !allowed.includes(f)));
    if (blocking)
      return { kind: 'unknown', reason: `template ${t.file} reads ${blocking === '*' ? 'data out of its context' : blocking} outside the per-app partials` };
  }
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)]) as Set<keyof TemplateData>) {
    if (isRuntimeField(key) || before[key] === after[key] || isDeepStrictEqual(before[key], after[key])) continue;
    return { kind: 'reload', reason: `${key} changed` };
  }

  const ops: RuntimeOp[] = [];
  const servers = new Map<string, Map<string, ServerLine>>();
  const claims: SpareClaim[] = [];
  const changed = (old: AppView, now: AppView): string | undefined => {
    if (old === now) return undefined;
    const oldText = templates.itemText(listOf(old), old);
    const newText = templates.itemText(listOf(now), now);
    if (oldText === undefined || newText === undefined) return 'unknown';
    if (oldText === newText) return undefined;
    const was = parseConfig(oldText);
    const is = parseConfig(newText);
    if (was.skeleton !== is.skeleton) return `the section of app ${now.name} changed beyond its servers`;
    // The app's own backend, and a group's canary backends (router.canary) with their members' servers.
    const own = new Set([now.backend, ...(now.canaries ?? []).map((c) => c.backend)]);
    if (!is.proxies.has(now.backend) || [...is.proxies.keys()].some((p) => !own.has(p))) return 'unknown';
    for (const [backend, wanted] of is.proxies) {
      const found = serverOps(backend, was.proxies.get(backend) ?? new Map(), wanted, is.balance.get(backend));
      if ('reason' in found) return found.reason;
      ops.push(...found.ops);
      servers.set(backend, wanted);
    }
    return undefined;
  };
  if (before.apps !== after.apps) {
    // Apps are sorted by name (code units): a merge walk pairs them and finds the new ones.
    const added: AppView[] = [];
    let i = 0;
    for (const now of after.apps) {
      const old = before.apps[i];
      if (old !== undefined && old.name === now.name) {
        i++;
        const problem = changed(old, now);
        if (problem === 'unknown') return { kind: 'unknown', reason: `the templates render app ${now.name} outside its own section` };
        if (problem !== undefined) return { kind: 'reload', reason: problem };
      } else if (old === undefined || now.name < old.name) {
        added.push(now);
      } else {
        return { kind: 'reload', reason: 'apps were added or removed' };
      }
    }
    if (i !== before.apps.length) return { kind: 'reload', reason: 'apps were added or removed' };
    for (const app of added) {
      const taken = spareFor(templates, before.spares, app, spareUse, claims);
      if ('reason' in taken) return { kind: 'reload', reason: taken.reason };
      ops.push(...taken.ops);
      servers.set(app.backend, taken.servers);
      claims.push({ app: app.name, backend: app.backend, spare: taken.spare });
    }
  }
  if (before.hosts !== after.hosts) ops.push(...hostOps(before.hosts, after.hosts));
  // Maintenance pages: maintenance.map entries (`add/set/del map`), never a reload.
  const maps = new Map<string, Map<string, string>>();
  if (before.maintenance !== after.maintenance && !isDeepStrictEqual(before.maintenance, after.maintenance)) {
    const entries = (list: TemplateData['maintenance']) => new Map(list.map((m) => [m.backend, m.message64]));
    maps.set(MAINTENANCE_MAP_FILE, entries(after.maintenance));
    ops.push(...mapOps(entries(before.maintenance), entries(after.maintenance), MAINTENANCE_MAP_FILE));
  }
  return { kind: 'runtime', ops, desired: { servers, hosts: hostsMapOf(after.hosts), maps }, ...(claims.length > 0 ? { spares: claims } : {}) };
}

/**
 * A free spare for a brand-new app, and the `add server` ops that fill it (named for the app's own
 * backend: the applier renames them), or why the app needs a reload. Eligible: an http app whose
 * section, renamed to the spare with its servers left out, is the spare's section (same settings:
 * no tag that changes a backend line), whose servers speak the spare's protocol and HAProxy 2.6
 * can add at runtime.
 */
function spareFor(
  templates: CompiledTemplates,
  spares: AppView[],
  app: AppView,
  use: SpareUse | undefined,
  claims: SpareClaim[],
): { spare: string; ops: RuntimeOp[]; servers: Map<string, ServerLine> } | { reason: string } {
  const added = `app ${app.name} was added`;
  if (use === undefined || spares.length === 0) return { reason: `${added} (no spare backends)` };
  if (use.unavailable !== undefined) return { reason: `${added} (${use.unavailable})` };
  if (app.mode !== 'http') return { reason: `${added} (a tcp app needs its own listener)` };
  const free = spares.find((s) => !use.inUse.has(s.backend) && !claims.some((c) => c.spare === s.backend));
  if (free === undefined) return { reason: `${added} and every spare backend is taken (haproxy.spare_backends: ${spares.length})` };
  // Spares are rendered for HTTP/1.1 servers: a router.proto=h2 app gets its own backend.
  if (app.proto !== free.proto) return { reason: `${added} with servers speaking ${app.proto}, and spare backends are rendered for HTTP/1.1` };
  const spareText = templates.itemText('spares', free);
  const appText = templates.itemText('httpApps', app);
  const asSpare = templates.itemText('httpApps', { ...app, name: free.name, backend: free.backend, servers: [] });
  if (spareText === undefined || appText === undefined || asSpare === undefined) return { reason: `${added} (the templates render no spare on its own)` };
  if (parseConfig(asSpare).skeleton !== parseConfig(spareText).skeleton) return { reason: `${added} with backend settings a spare backend lacks` };
  const own = parseConfig(appText);
  const wanted = own.proxies.get(app.backend);
  if (own.proxies.size !== 1 || wanted === undefined) return { reason: `${added} (its section is not one proxy named ${app.backend})` };
  const found = serverOps(app.backend, new Map(), wanted, own.balance.get(app.backend));
  if ('reason' in found) return { reason: `${added}; ${found.reason}` };
  return { spare: free.backend, ops: found.ops, servers: wanted };
}
