// `paas-router weights get|set <group> <app>=<w> ...`: the weights of a router.group route in
// Consul K/V (`<weights_prefix><group>` = `<app>=<0..256> ...`), validated with the daemon's own
// parser and written with check-and-set. `set` changes the apps it names and keeps the others.
import type { Config } from '../config/config.js';
import { MAX_WEIGHT, parseWeights } from '../model/groups.js';
import type { AppRoute, RoutingModel } from '../model/types.js';
import { editWithCas, readEntry, usage, type KvIo } from './cas.js';
import { EXIT_OK } from './common.js';
import { checkApp } from './domains.js';
import { readLiveView } from './explain.js';

/**
 * The apps with `router.group=<group>`: the members of the route, and the apps that ask to join but
 * are not admitted (the weights key is how the group's owner admits them) or were rejected.
 */
export function groupMembers(model: RoutingModel, group: string): { route?: AppRoute; members: string[]; candidates: string[] } {
  const route = model.apps.find((a) => a.name === group && a.members !== undefined);
  const members = route ? route.members!.map((m) => m.app) : [];
  const rejected = model.rejections.filter((r) => r.kind === 'group' && r.subject === group).map((r) => r.service);
  return { ...(route ? { route } : {}), members, candidates: [...new Set(rejected)].filter((a) => !members.includes(a)).sort() };
}

function formatWeights(weights: Map<string, number>): string {
  return [...weights]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([app, w]) => `${app}=${w}`)
    .join(' ');
}

export async function weightsGet(config: Config, groupArg: string, opts: { json?: boolean }, io: KvIo): Promise<number> {
  const group = checkApp(groupArg);
  if (!group.ok) return usage(io, group.message.replace(/^app /, 'group '));
  const key = `${config.consul.weightsPrefix}${group.value}`;
  const view = await readLiveView(config);
  const { route, members: admitted, candidates } = groupMembers(view.model, group.value);
  const members = [...admitted, ...candidates];
  const entry = view.weights.find((e) => e.key === key);
  const problems = view.model.rejections.filter((r) => r.kind === 'weight' && r.key === key).map((r) => r.reason);
  const groupProblems = view.model.rejections.filter((r) => r.kind === 'group' && r.subject === group.value).map((r) => r.reason);
  if (opts.json) {
    io.out.write(
      `${JSON.stringify({ group: group.value, key, value: entry?.value ?? null, routed: route !== undefined, members: route?.members ?? members.map((app) => ({ app })), problems: [...groupProblems, ...problems] }, null, 2)}\n`,
    );
    return EXIT_OK;
  }
  if (members.length === 0 && !entry) {
    io.err.write(`no app has router.group=${group.value} and ${key} is not set\n`);
    return EXIT_OK;
  }
  io.out.write(`group ${group.value}: ${entry ? `${key} = ${JSON.stringify(entry.value)}` : `${key} is not set (equal weights)`}\n`);
  if (route) {
    const w = Math.max(3, ...route.members!.map((m) => m.app.length));
    io.out.write(`  ${'APP'.padEnd(w)}  WEIGHT  FROM     SERVERS\n`);
    for (const m of route.members!) io.out.write(`  ${m.app.padEnd(w)}  ${String(m.weight).padEnd(6)}  ${m.weightFrom.padEnd(7)}  ${m.servers}\n`);
  } else if (members.length > 0) {
    io.out.write(`  not routed (apps: ${members.join(', ')})\n`);
  }
  if (route && candidates.length > 0) io.out.write(`  not members: ${candidates.join(', ')} (they ask to join; ${key} admits an app by naming it)\n`);
  for (const p of [...groupProblems.slice(0, route ? 3 : 1), ...problems]) io.out.write(`  problem: ${p}\n`);
  return EXIT_OK;
}

export async function weightsSet(config: Config, groupArg: string, assignments: string[], io: KvIo): Promise<number> {
  const group = checkApp(groupArg);
  if (!group.ok) return usage(io, group.message.replace(/^app /, 'group '));
  if (assignments.length === 0) return usage(io, `give at least one <app>=<0..${MAX_WEIGHT}>`);
  const given = parseWeights(assignments.join(' '));
  if (!given.ok) return usage(io, `weights for group ${group.value}: ${given.reason}`);
  const found = groupMembers((await readLiveView(config)).model, group.value);
  const members = [...found.members, ...found.candidates].sort();
  if (members.length === 0)
    return usage(io, `no app has router.group=${group.value}: deploy the group's apps first (weights of apps outside the group are ignored)`);
  const strangers = [...given.weights.keys()].filter((app) => !members.includes(app));
  if (strangers.length > 0)
    return usage(io, `${strangers.join(', ')} ${strangers.length === 1 ? 'is' : 'are'} not in group ${group.value} (its apps: ${members.join(', ')})`);

  const prefix = config.consul.weightsPrefix;
  const key = `${prefix}${group.value}`;
  return editWithCas(config, io, `setting the weights of ${group.value} (${key})`, async (client) => {
    const own = await readEntry(client, prefix, key);
    const current = own ? parseWeights(own.value) : undefined;
    if (current && !current.ok) io.err.write(`note: the current value of ${key} is invalid (${current.reason}); it is replaced\n`);
    const merged = new Map<string, number>();
    for (const [app, w] of current?.ok ? current.weights : []) if (members.includes(app)) merged.set(app, w);
    for (const [app, w] of given.weights) merged.set(app, w);
    const value = formatWeights(merged);
    if (own && own.value === value) {
      io.out.write(`weights of ${group.value} are already ${value}; nothing to do\n`);
      return EXIT_OK;
    }
    if (!(await client.kvSetCas(key, value, own ? own.modifyIndex : 0))) return 'retry';
    io.out.write(`weights of ${group.value}: ${value} (${key})\n`);
    for (const app of found.members.filter((m) => !merged.has(m))) io.err.write(`note: ${app} has no weight in ${key}: it gets weight 0 (no new traffic)\n`);
    for (const app of found.candidates.filter((m) => !merged.has(m)))
      io.err.write(`note: ${app} asks to join group ${group.value}; it is not admitted until ${key} names it\n`);
    return EXIT_OK;
  });
}
