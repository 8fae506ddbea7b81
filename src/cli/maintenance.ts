// `paas-router maintenance on|off <app or group> [message]`: the maintenance page of a route in
// Consul K/V (`<maintenance_prefix><name>` = message), validated with the daemon's own rules and
// written (or deleted) with check-and-set. The daemon applies it at runtime, with no reload.
import type { Config } from '../config/config.js';
import { maintenanceMessageProblem, maintenanceText } from '../model/features.js';
import { editWithCas, readEntry, usage, type KvIo } from './cas.js';
import { EXIT_OK } from './common.js';
import { checkApp } from './domains.js';
import { readLiveView } from './explain.js';

export async function maintenanceOn(config: Config, nameArg: string, message: string, io: KvIo): Promise<number> {
  const name = checkApp(nameArg);
  if (!name.ok) return usage(io, name.message);
  const problem = maintenanceMessageProblem(message);
  if (problem) return usage(io, `maintenance message for ${name.value}: ${problem}`);
  const { model } = await readLiveView(config);
  const route = model.apps.find((a) => a.name === name.value);
  const group =
    model.rejections.find((r) => r.kind === 'group' && r.service === name.value)?.subject ??
    model.apps.find((a) => a.members?.some((m) => m.app === name.value))?.name;
  if (!route && group !== undefined)
    return usage(io, `${name.value} is served as part of group ${group}: put the group in maintenance (paas-router maintenance on ${group})`);
  if (!route) return usage(io, `no app or group named ${name.value} is routed`);
  if (route.mode !== 'http') return usage(io, `${name.value} is a tcp app: maintenance pages are for http apps`);

  const prefix = config.consul.maintenancePrefix;
  const key = `${prefix}${name.value}`;
  return editWithCas(config, io, `putting ${name.value} in maintenance (${key})`, async (client) => {
    const own = await readEntry(client, prefix, key);
    if (own && own.value === message) {
      io.out.write(`${name.value} is already in maintenance with this message; nothing to do\n`);
      return EXIT_OK;
    }
    if (!(await client.kvSetCas(key, message, own ? own.modifyIndex : 0))) return 'retry';
    io.out.write(`${name.value} is in maintenance (${key}): its hosts answer 503 "${maintenanceText(message)}"\n`);
    return EXIT_OK;
  });
}

export async function maintenanceOff(config: Config, nameArg: string, io: KvIo): Promise<number> {
  const name = checkApp(nameArg);
  if (!name.ok) return usage(io, name.message);
  const prefix = config.consul.maintenancePrefix;
  const key = `${prefix}${name.value}`;
  return editWithCas(config, io, `ending the maintenance of ${name.value} (${key})`, async (client) => {
    const own = await readEntry(client, prefix, key);
    if (!own) {
      io.err.write(`${name.value} is not in maintenance (${key} is not set); nothing to do\n`);
      return EXIT_OK;
    }
    if (!(await client.kvDeleteCas(key, own.modifyIndex))) return 'retry';
    io.out.write(`${name.value} is out of maintenance (${key} deleted)\n`);
    return EXIT_OK;
  });
}
