// Pure: the runtime plan from the difference between two builds (the template data of the running
// configuration and of the candidate), not from parsing whole rendered files back. Cost follows
// the change: unchanged apps are skipped by identity (the model memo and the render cache keep
// their objects), and only the sections of the changed apps are read, to take their server lines
// exactly as HAProxy will see them. A reload is planned whenever anything but servers and hosts
// changed: settings, an app's own settings, the set of apps, the section of an app beyond its
// server lines.
import { isDeepStrictEqual } from 'node:util';
import { MAINTENANCE_MAP_FILE, type AppView, type HostView, type TemplateData } from '../../render/data.js';
import type { CompiledTemplates } from '../../render/templates.js';
import type { DesiredState } from './execute.js';
import { parseConfig, type ServerLine } from './parse.js';
import { HOSTS_MAP, MAIN_CONFIG, mapOps, serverOps, type RuntimeOp } from './plan.js';

/** Fields whose change the runtime API can apply: the apps (their servers) and the hosts. */
const RUNTIME_FIELDS = new Set(['apps', 'httpApps', 'tcpApps', 'hosts', 'maintenance']);

export type ModelPlan = { kind: 'runtime'; ops: RuntimeOp[]; desired: DesiredState } | { kind: 'reload'; reason: string } | { kind: 'unknown'; reason: string };

function listOf(view: AppView): string {
  return view.mode === 'tcp' ? 'tcpApps' : 'httpApps';
}

/** The hosts map as HAProxy holds it: host → backend. */
export function hostMap(hosts: HostView[]): Map<string, string> {
  return new Map(hosts.map((h) => [h.host, h.backend]));
}

/**
 * `unknown` when the templates do not render each app on its own (no per-app partial): the
 * caller then compares the rendered files (planRuntime).
 */
export function planFromData(templates: CompiledTemplates, before: TemplateData, after: TemplateData): ModelPlan {
  for (const t of templates.templates) {
    const allowed = t.output === MAIN_CONFIG ? [] : t.output === HOSTS_MAP ? ['hosts'] : [];
    const blocking = t.frameReads.find((f) => f === '*' || (RUNTIME_FIELDS.has(f) && !allowed.includes(f)));
    if (blocking)
      return { kind: 'unknown', reason: `template ${t.file} reads ${blocking === '*' ? 'data out of its context' : blocking} outside the per-app partials` };
  }
  const a = before as unknown as Record<string, unknown>;
  const b = after as unknown as Record<string, unknown>;
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (RUNTIME_FIELDS.has(key) || a[key] === b[key] || isDeepStrictEqual(a[key], b[key])) continue;
    return { kind: 'reload', reason: `${key} changed` };
  }

  const ops: RuntimeOp[] = [];
  const servers = new Map<string, Map<string, ServerLine>>();
  if (before.apps !== after.apps) {
    if (before.apps.length !== after.apps.length) return { kind: 'reload', reason: 'apps were added or removed' };
    for (let i = 0; i < after.apps.length; i++) {
      const old = before.apps[i]!;
      const now = after.apps[i]!;
      if (old === now) continue;
      if (old.name !== now.name) return { kind: 'reload', reason: 'apps were added or removed' };
      const oldText = templates.itemText(listOf(old), old);
      const newText = templates.itemText(listOf(now), now);
      if (oldText === undefined || newText === undefined) return { kind: 'unknown', reason: 'the templates render no app on its own' };
      if (oldText === newText) continue;
      const was = parseConfig(oldText);
      const is = parseConfig(newText);
      if (was.skeleton !== is.skeleton) return { kind: 'reload', reason: `the section of app ${now.name} changed beyond its servers` };
      if (is.proxies.size !== 1 || !is.proxies.has(now.backend))
        return { kind: 'unknown', reason: `the section of app ${now.name} is not one proxy named ${now.backend}` };
      const wanted = is.proxies.get(now.backend)!;
      const found = serverOps(now.backend, was.proxies.get(now.backend) ?? new Map(), wanted, is.balance.get(now.backend));
      if ('reason' in found) return { kind: 'reload', reason: found.reason };
      ops.push(...found.ops);
      servers.set(now.backend, wanted);
    }
  }
  let hosts = new Map<string, string>();
  if (before.hosts !== after.hosts) {
    const mapBefore = hostMap(before.hosts);
    hosts = hostMap(after.hosts);
    ops.push(...mapOps(mapBefore, hosts));
  }
  // Maintenance pages: maintenance.map entries (`add/set/del map`), never a reload.
  const maps = new Map<string, Map<string, string>>();
  if (before.maintenance !== after.maintenance && !isDeepStrictEqual(before.maintenance, after.maintenance)) {
    const entries = (list: TemplateData['maintenance']) => new Map(list.map((m) => [m.backend, m.message64]));
    maps.set(MAINTENANCE_MAP_FILE, entries(after.maintenance));
    ops.push(...mapOps(entries(before.maintenance), entries(after.maintenance), MAINTENANCE_MAP_FILE));
  }
  return { kind: 'runtime', ops, desired: { servers, hosts, maps } };
}
