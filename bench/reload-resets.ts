// Connections HAProxy resets while reloads are refused, per HAProxy binary (docs/haproxy-versions.md,
// "A refused reload"). Eight loops open a new connection per request to a real HAProxy while the
// configuration asks for a stats socket in a missing directory (`haproxy -c` passes, the new
// worker cannot bind it) and the master CLI reloads it again and again; `--mode good` reloads a
// valid configuration instead, `--mode mixed` alternates. Prints requests, failed and the errors.
//   node dist/bench/reload-resets.js [--bin <haproxy>]... [--mode refused|good|mixed] [--reloads 30]
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startHaproxy } from '../dev/haproxy-process.js';
import { sendSocketCommand } from '../src/apply/socket.js';
import { MIGRATE_REQ_SYSCTL } from '../src/apply/host-settings.js';
import { freePort } from '../test/helpers/net.js';

const { values } = parseArgs({
  options: {
    bin: { type: 'string', multiple: true, default: ['haproxy'] },
    mode: { type: 'string', default: 'refused' },
    reloads: { type: 'string', default: '30' },
  },
});
const mode = values.mode as 'refused' | 'good' | 'mixed';
if (!['refused', 'good', 'mixed'].includes(mode)) throw new Error(`--mode must be refused, good or mixed, not ${mode}`);
const reloads = Number(values.reloads);

const config = (dir: string, port: number, backendPort: number, refused: boolean) => `global
    master-worker
    stats socket ${dir}/runtime.sock mode 600 level admin expose-fd listeners
${refused ? `    stats socket ${dir}/missing/admin.sock mode 600 level admin\n` : ''}defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:${port}
    default_backend be
backend be
    server s1 127.0.0.1:${backendPort}
`;

function once(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 5_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200 ? undefined : String(res.statusCode)));
      res.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
}

async function measure(bin: string): Promise<{ requests: number; failed: number; errors: Record<string, number> }> {
  const dir = await mkdtemp(join(tmpdir(), 'reload-resets-'));
  const backend: Server = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  const port = await freePort();
  const configFile = join(dir, 'haproxy.cfg');
  const write = (refused: boolean) => writeFile(configFile, config(dir, port, (backend.address() as AddressInfo).port, refused));
  await write(false);
  const haproxy = await startHaproxy({ bin, configFile, masterSocket: join(dir, 'master.sock') });
  let running = true;
  let requests = 0;
  const errors: Record<string, number> = {};
  const loops = Array.from({ length: 8 }, async () => {
    while (running) {
      const error = await once(port);
      requests++;
      if (error) errors[error] = (errors[error] ?? 0) + 1;
    }
  });
  try {
    for (let i = 0; i < reloads; i++) {
      await write(mode === 'refused' || (mode === 'mixed' && i % 2 === 0));
      const answer = await sendSocketCommand(haproxy.masterSocket, 'reload', 10_000);
      // 3.1+ refuses a reload while the previous one still loads: wait for it, it is not the point here.
      if (/Another reload is still in progress/.test(answer)) i--;
      await new Promise((r) => setTimeout(r, 150)); // lets the loops run between reloads
    }
  } finally {
    running = false;
    await Promise.all(loops);
    await haproxy.stop();
    backend.close();
    await rm(dir, { recursive: true, force: true });
  }
  return { requests, failed: Object.values(errors).reduce((a, b) => a + b, 0), errors };
}

let migrate = 'absent';
try {
  migrate = readFileSync(MIGRATE_REQ_SYSCTL, 'utf8').trim();
} catch {}
console.log(`net.ipv4.tcp_migrate_req = ${migrate}; ${reloads} ${mode} reloads; 8 loops, a new connection per request`);
for (const bin of values.bin) {
  const r = await measure(bin);
  console.log(`${bin}: ${r.requests} requests, ${r.failed} failed ${JSON.stringify(r.errors)}`);
}
