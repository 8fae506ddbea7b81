// `npm run bench:status`: what one /status answer costs at --apps apps (default 10 000) where one
// tenant app claims --domains custom domains (default 10 000) and carries --bad-tags unknown tags
// (default 3 000): the bytes served and the time to serve them (the real status server on a built
// model, fetched from the same process, so the time is the event loop's), and the longest
// event-loop block while serving. The first line names the machine and its load.
import { cpus, loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { buildModel } from '../src/model/build.js';
import { startStatusServerOn } from './status-server.js';
import { initialState } from '../src/state.js';
import { deploymentOf } from '../test/helpers/deployment.js';

const { values } = parseArgs({
  options: {
    apps: { type: 'string', default: '10000' },
    domains: { type: 'string', default: '10000' },
    'bad-tags': { type: 'string', default: '3000' },
    runs: { type: 'string', default: '5' },
    paths: { type: 'string', default: '/status,/status?limit=1000,/status?app=app-00000' },
  },
});
const apps = Number(values.apps);
const log = (s: string) => process.stdout.write(`${s}\n`);
log(
  `load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}, ${cpus().length} × ${cpus()[0]?.model}, node ${process.version}`,
);

const name = (i: number) => `app-${String(i).padStart(5, '0')}`;
const services = Object.fromEntries(
  Array.from({ length: apps }, (_, i) => {
    const address = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const inst = {
      id: `mesos-consul:a:${name(i)}:${address}:31000`,
      node: 'n1',
      address,
      port: 31000,
      tags: [] as string[],
      passing: true,
      checks: [],
      createIndex: 1,
    };
    return [name(i), [inst, { ...inst, id: `${inst.id}-b`, port: 31001 }]];
  }),
);
services[name(0)]![0]!.tags = Array.from({ length: Number(values['bad-tags']) }, (_, k) => `router.no-such-key-${k}=x`);
const claims = [
  {
    key: `paas-router/domains/${name(0)}`,
    value: Array.from({ length: Number(values.domains) }, (_, k) => `www${k}.tenant.example.org`).join(' '),
    createIndex: 5,
    modifyIndex: 5,
  },
];
const model = buildModel({
  services,
  claims,
  settings: {
    cluster: 'production',
    baseDomain: 'mozilla.community',
    serviceIdPrefixes: ['mesos-consul:'],
    domainsPrefix: 'paas-router/domains/',
    reservedPorts: [80, 443, 8404],
    tcpPorts: [{ from: 10000, to: 10999 }],
    weightsPrefix: 'paas-router/weights/',
    maintenancePrefix: 'paas-router/maintenance/',
  },
});
log(`${model.apps.length} apps, ${model.hosts.length} hosts, ${model.rejections.length} rejected inputs`);
const deployment = deploymentOf(model);
const state = initialState(Date.now(), () => deployment);
for (const source of ['consul-catalog', 'consul-domains', 'templates']) state.sources[source] = { name: source, state: 'ok', lastSyncAt: Date.now() };
state.builtModel = model;
state.lastApply = { status: 'reloaded', checksum: 'a'.repeat(64), at: Date.now() };
const server = await startStatusServerOn(state);
const med = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const path of values.paths.split(',')) {
  const times: number[] = [];
  const blocks: number[] = [];
  let bytes = 0;
  let status = 0;
  for (let i = 0; i < Number(values.runs); i++) {
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const started = performance.now();
    const res = await fetch(`${server.url}${path}`);
    status = res.status;
    bytes = (await res.arrayBuffer()).byteLength;
    times.push(performance.now() - started);
    loop.disable();
    blocks.push(loop.max / 1e6);
  }
  log(
    `${path}: HTTP ${status}, ${(bytes / 1e6).toFixed(2)} MB, served in ${Math.round(med(times))} ms (median of ${times.length}; max ${Math.round(Math.max(...times))} ms), longest loop block ${Math.round(med(blocks))} ms`,
  );
}
await server.stop();
