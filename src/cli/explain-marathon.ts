// `paas-router explain --marathon <app.json>`: a check before deploy, with no cluster. The app
// definition goes through the daemon's own model (one instance registered as the bridge would
// register it), so what it prints is what the router would do with the app once it runs.
import { readFile } from 'node:fs/promises';
import type { Config } from '../config/config.js';
import { modelSettingsFrom } from '../daemon.js';
import { errorMessage } from '../errors.js';
import { buildModel, defaultHost } from '../model/index.js';
import { describeFeatures } from '../model/describe.js';
import { type MarathonDefinition, parseMarathonDefinition } from '../model/marathon.js';
import { parseRouterTag, resolveTags } from '../model/tags.js';
import type { AppRoute, ModelSettings, Rejection } from '../model/types.js';
import { safeText } from '../model/text.js';
import { EXIT_OK, EXIT_USAGE } from './common.js';
import { type LiveView, readLiveView } from './explain.js';

export interface MarathonExplanation {
  file: string;
  /** Absent when the definition itself cannot be read. */
  id?: string;
  service?: string;
  defaultHost?: string;
  ports: string[];
  /** One line per tag of the `tags` label: the setting it gives, or why it is rejected. */
  tags: { tag: string; setting?: string; rejected?: string }[];
  /** What the router would serve: the app's settings and features in words. */
  route: string[];
  rejections: string[];
  notes: string[];
}

/**
 * The model settings for an app that is not deployed yet: the instance addresses are not known,
 * so the checks that need them (own endpoints, backend networks) are left to the daemon.
 */
function preDeploySettings(config: Config): ModelSettings {
  const { ownEndpoints: _o, localAddresses: _l, backendNetworks: _b, ...settings } = modelSettingsFrom(config);
  return settings;
}

function rejectionText(r: Rejection): string {
  return `${r.kind} ${JSON.stringify(r.subject)}: ${r.reason}`;
}

function show(value: unknown): string {
  return Array.isArray(value) ? value.join(' ') : String(value);
}

/** The route's settings as `key value`, the defaults left out. */
function settingsOf(app: AppRoute): string[] {
  const lines = [`balance ${app.balance}`];
  const skip = new Set(['name', 'backend', 'mode', 'port', 'balance', 'hosts', 'servers', 'defaultHost', 'members', 'weightsKey', 'auth', 'maintenance']);
  for (const [k, v] of Object.entries(app).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (skip.has(k) || v === undefined || v === false) continue;
    lines.push(`${k} ${k === 'cache' ? `${v}m` : show(v)}`);
  }
  return lines;
}

/** What Consul holds now (explain.ts readLiveView): the app is checked beside the running apps and the recorded owners. */
export type LiveInputs = Pick<LiveView, 'catalog' | 'claims' | 'weights' | 'maintenance' | 'records' | 'delegations'> & { address: string };

export function explainMarathon(file: string, json: unknown, config: Config, live?: LiveInputs): MarathonExplanation {
  const parsed = parseMarathonDefinition(json);
  const out: MarathonExplanation = { file, ports: [], tags: [], route: [], rejections: [], notes: [] };
  if (!parsed.ok) {
    out.rejections.push(parsed.reason);
    return out;
  }
  const def: MarathonDefinition = parsed.app;
  const settings = preDeploySettings(config);
  out.id = def.id;
  out.service = def.service;
  out.defaultHost = defaultHost(def.service, settings);
  if (def.tags.includes('router.mode=tcp')) out.notes.push('a tcp app has no host: it is reached on its router.port');
  out.ports = def.ports.map(
    (p) => `${p.port === 0 ? 'a host port Marathon picks' : `port ${p.port}`}${p.name ? ` "${p.name}"` : ''}${p.protocol ? `/${p.protocol}` : ''} (${p.from})`,
  );
  if (def.ports.length === 0) out.rejections.push('the app has no port: mesos-consul registers no address the router could send traffic to');
  if (def.ports.length > 1) {
    out.notes.push(
      `${def.ports.length} ports: mesos-consul registers an instance of ${def.service} for each host port, and the router balances over all of them`,
    );
  }
  for (const label of def.foreignLabels)
    out.notes.push(`label ${label} is another router's (marathon-lb, Traefik or fabio): paas-router ignores it; see docs/features.md for the router.* tag`);

  // The tags as one instance of the app carries them (every instance carries the same label).
  const prefix = settings.serviceIdPrefixes[0] ?? 'mesos-consul:';
  const port = def.ports[0]?.port || 31000;
  const instance = {
    id: `${prefix}explain:${def.service}:192.0.2.1:${port}`,
    node: 'explain',
    address: '192.0.2.1',
    port,
    tags: def.tags,
    passing: true,
    checks: [],
  };
  const resolved = resolveTags(def.service, [instance], settings);
  for (const tag of def.tags) {
    const p = parseRouterTag(tag, settings);
    if (p === undefined) out.tags.push({ tag: safeText(tag, 200), setting: 'not a router.* tag: ignored by the router' });
    else if (!p.ok) out.tags.push({ tag: safeText(tag, 200), rejected: p.reason });
    else {
      const ignored = resolved.rejections.find((r) => r.subject === safeText(tag));
      out.tags.push(ignored ? { tag: safeText(tag, 200), rejected: ignored.reason } : { tag, setting: `${p.key} = ${p.value}` });
    }
  }

  // With Consul: the running apps and the recorded owners beside this definition (it replaces the
  // app's running instances, as the deploy will), so names another app holds show as rejections.
  const services = { ...(live?.catalog.services ?? {}), [def.service]: [instance] };
  const model = buildModel({
    services,
    claims: live?.claims ?? [],
    settings,
    ...(live ? { weights: live.weights, maintenance: live.maintenance, claimRecords: live.records, delegations: live.delegations } : {}),
  });
  if (live) out.notes.push(`checked beside the apps and the recorded owners in Consul at ${live.address}`);
  else out.notes.push('Consul not read: names other apps already own (hosts, tcp ports, groups) are not checked');
  // Beside the cluster, only this app's rejections are its own.
  const rejections = live ? model.rejections.filter((r) => r.service === def.service) : model.rejections;
  out.rejections.push(...rejections.map(rejectionText));
  const app = model.apps.find((a) => a.name === def.service || a.members?.some((m) => m.app === def.service));
  if (app) {
    if (app.members) {
      out.route.push(`served as group ${app.name} (backend ${app.backend}${app.defaultHost ? `, host ${app.defaultHost}` : ''}), not at its own host`);
      out.notes.push(
        `an app joins an existing group ${app.name} only when the group's owner admits it in ${settings.weightsPrefix ?? 'paas-router/weights/'}${app.name}`,
      );
    } else
      out.route.push(app.mode === 'tcp' ? `tcp app on port ${app.port} (listen ${app.backend})` : `http app at ${app.defaultHost} (backend ${app.backend})`);
    out.route.push(...settingsOf(app), ...describeFeatures(app));
  } else if (out.rejections.length === 0) {
    out.rejections.push(`service ${def.service} would not be routed`);
  }
  return out;
}

export function formatMarathonExplanation(e: MarathonExplanation): string {
  const lines: string[] = [];
  if (e.id !== undefined) {
    lines.push(`Marathon app ${e.id} (${e.file})`);
    lines.push(`service: ${e.service} (the Consul service name mesos-consul registers)`);
    lines.push(`default host: ${e.defaultHost}`);
    lines.push(`ports: ${e.ports.length === 0 ? 'none' : e.ports.join(', ')}`);
    lines.push(e.tags.length === 0 ? 'tags: none (labels.tags is empty)' : 'tags:');
    for (const t of e.tags) lines.push(`  ${t.tag}  →  ${t.rejected !== undefined ? `REJECTED: ${t.rejected}` : t.setting}`);
    if (e.route.length > 0) lines.push('route:');
    for (const r of e.route) lines.push(`  ${r}`);
    for (const n of e.notes) lines.push(`note: ${n}`);
  } else {
    lines.push(`${e.file} is not a Marathon app definition the router can read`);
  }
  lines.push(e.rejections.length === 0 ? 'rejections: none' : `rejections (${e.rejections.length}):`);
  for (const r of e.rejections) lines.push(`  ${r}`);
  return `${lines.join('\n')}\n`;
}

/** Consul's view when it answers within a few seconds; undefined without a reachable Consul (no cluster needed). */
async function liveInputs(config: Config): Promise<LiveInputs | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), 3_000);
  });
  try {
    const view = await Promise.race([readLiveView(config).catch(() => undefined), timeout]);
    return view && { ...view, address: config.consul.address };
  } finally {
    clearTimeout(timer);
  }
}

/** Exit 0 when nothing is rejected, 2 on a rejection or a file that is not an app definition. */
export async function explainMarathonCommand(
  config: Config,
  file: string,
  opts: { json?: boolean },
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    err.write(`paas-router: cannot read the Marathon app definition ${file}: ${errorMessage(e)}\n`);
    return EXIT_USAGE;
  }
  const e = explainMarathon(file, json, config, await liveInputs(config));
  out.write(opts.json ? `${JSON.stringify(e, null, 2)}\n` : formatMarathonExplanation(e));
  return e.rejections.length > 0 ? EXIT_USAGE : EXIT_OK;
}
