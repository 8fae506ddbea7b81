// HAProxy's workers face the internet: they run as `haproxy.user`/`haproxy.group` (Debian's
// `haproxy` account by default), the master stays root to re-read files on reload. Checked on the
// real processes (`show proc` on the master socket gives the pids, /proc/<pid>/status their ids),
// and everything the daemon does at run time still works with the workers unprivileged: runtime
// map and server changes, a brand-new app on a spare backend, a reload.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { requestThrough } from '../../dev/probe.js';
import { reloadThroughMaster, showProc } from '../../src/apply/reload.js';
import { startTestCluster } from '../helpers/cluster.js';
import { eventually } from '../helpers/net.js';

/** Real uid and gid of a process (first field of `Uid:` / `Gid:` in /proc/<pid>/status). */
function idsOf(pid: number): { uid: number; gid: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1]);
  return { uid: field('Uid'), gid: field('Gid') };
}

/** uid/gid of an account from /etc/passwd and /etc/group. */
function account(user: string, group: string): { uid: number; gid: number } | undefined {
  const find = (file: string, name: string) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .map((line) => line.split(':'))
      .find((fields) => fields[0] === name)?.[2];
  const uid = find('/etc/passwd', user);
  const gid = find('/etc/group', group);
  return uid === undefined || gid === undefined ? undefined : { uid: Number(uid), gid: Number(gid) };
}

const root = process.getuid?.() === 0;
const haproxyAccount = account('haproxy', 'haproxy');

t.test('the workers run as the haproxy account, the master as root; runtime changes and reloads still work', async (t) => {
  // The dev cluster keeps the config default (haproxy) when it can switch users: as root with
  // Debian's account present. CI runs as root with the haproxy package installed.
  if (!root || !haproxyAccount) return t.fail('this test needs root and the haproxy account (Debian haproxy package)');
  const app = { id: '/plain', instances: 1, mode: 'http' as const, tags: [] };
  const cluster = await startTestCluster(t, { apps: [app] });
  const { masterSocket } = cluster.config.haproxy;
  t.equal(cluster.config.haproxy.user, 'haproxy');
  t.equal(cluster.config.haproxy.group, 'haproxy');
  await eventually('plain routed', async () => (await requestThrough(cluster.httpPort, 'plain.production.mozilla.community')).status === 200, 20_000);
  await cluster.daemon.runner.settled();

  const checkIds = async (when: string) => {
    const proc = await showProc(masterSocket);
    t.ok(proc.workers.length > 0, `${when}: a worker runs`);
    for (const worker of proc.workers) t.same(idsOf(worker.pid), haproxyAccount, `${when}: worker ${worker.pid} runs as haproxy:haproxy`);
    t.same(idsOf(proc.master.pid), { uid: 0, gid: 0 }, `${when}: the master stays root`);
  };
  await checkIds('at start');

  // Runtime API as the workers' user: a new task (add server) and a brand-new app (spare backend + add map).
  await cluster.addTask(app);
  await eventually(
    'the second task serves',
    async () => (await requestThrough(cluster.httpPort, 'plain.production.mozilla.community', '/')).body === '/plain #2\n',
    20_000,
  );
  await cluster.addTask({ id: '/fresh', instances: 1, mode: 'http', tags: [] });
  await eventually('the new app serves', async () => (await requestThrough(cluster.httpPort, 'fresh.production.mozilla.community')).status === 200, 20_000);

  // A reload: the master re-reads the files as root and starts new workers, which drop again.
  await cluster.daemon.runner.settled();
  await reloadThroughMaster(masterSocket, 20_000);
  await checkIds('after a reload');
  t.equal((await requestThrough(cluster.httpPort, 'fresh.production.mozilla.community')).status, 200, 'served after the reload');
});
