// The check after runtime commands against a real HAProxy (the system's 2.6, or the branch
// PAAS_ROUTER_TEST_HAPROXY selects): it reads back only the map keys the ops changed (`get map`),
// catches a runtime entry that differs from the files for one of them, and reads a map whole only
// where its match method cannot answer for one key. The commands are counted through a relay.
import t from 'tap';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RuntimeExecutor, type DesiredState } from '../../src/apply/runtime/execute.js';
import type { RuntimeOp } from '../../src/apply/runtime/plan.js';
import { sendSocketCommand } from '../../src/apply/socket.js';
import { startHaproxy } from '../../dev/haproxy-process.js';
import { runtimeHead } from '../helpers/haproxy-config.js';
import { freePort } from '../helpers/net.js';

/** A Unix socket in front of `target` that records every command line sent through it. */
async function recordingRelay(target: string, path: string) {
  const sent: string[] = [];
  const server = createServer((client) => {
    const upstream = connect(target);
    let line = '';
    client.on('data', (chunk) => {
      line += chunk.toString();
      for (let at = line.indexOf('\n'); at >= 0; at = line.indexOf('\n')) {
        sent.push(line.slice(0, at));
        line = line.slice(at + 1);
      }
    });
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { sent, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

t.test('runtime verification reads back the changed map keys only', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'paas-router-verify-'));
  const dir = join(work, 'haproxy');
  await mkdir(dir);
  const runtimeSocket = join(work, 'runtime.sock');
  const masterSocket = join(work, 'master.sock');
  const hostsMap = join(dir, 'hosts.map');
  const file = (name: string) => join(dir, name);
  await writeFile(hostsMap, 'a.example.org app_a\nb.example.org app_b\n');
  await writeFile(file('maintenance.map'), 'app_b bWFpbnRlbmFuY2U=\n');
  await writeFile(file('domains.map'), 'a.example.org app_a\nx.a.example.org app_b\n');
  await writeFile(
    file('haproxy.cfg'),
    [
      ...runtimeHead(runtimeSocket, await freePort()),
      // As the shipped templates use them: exact string lookups of hosts.map and maintenance.map.
      `  use_backend %[req.fhdr(host),lower,word(1,:),map(${hostsMap})]`,
      // A map an operator's template looks up by domain suffix: `get map` meets a parent domain.
      `  use_backend %[req.fhdr(host),lower,map_dom(${file('domains.map')})]`,
      'backend app_a',
      `  http-request return status 503 content-type text/plain lf-string "%[str(app_a),map(${file('maintenance.map')}),b64dec]" if { str(app_a),map(${file('maintenance.map')}) -m found }`,
      'backend app_b',
      '',
    ].join('\n'),
  );
  const haproxy = await startHaproxy({ configFile: file('haproxy.cfg'), masterSocket });
  const relay = await recordingRelay(runtimeSocket, join(work, 'relay.sock'));
  t.teardown(async () => {
    await relay.close();
    await haproxy.stop();
    await rm(work, { recursive: true, force: true });
  });
  const executor = new RuntimeExecutor(join(work, 'relay.sock'), hostsMap);
  /** Behind the router's back: straight to HAProxy, not through the relay. */
  const behindItsBack = async (command: string) => {
    const answer = (await sendSocketCommand(runtimeSocket, command)).trim();
    if (answer !== '') throw new Error(`HAProxy refused "${command}": ${answer}`);
  };
  const hosts = new Map([
    ['a.example.org', 'app_a'],
    ['b.example.org', 'app_b'],
  ]);
  const maps = new Map([['maintenance.map', new Map([['app_b', 'bWFpbnRlbmFuY2U=']])]]);
  const desired = (): DesiredState => ({ servers: new Map(), hosts, maps });
  /** Runs `ops` and returns the read-back commands they caused. */
  const apply = async (ops: RuntimeOp[]) => {
    const from = relay.sent.length;
    await executor.apply(ops, desired());
    return relay.sent.slice(from).filter((c) => /^(show|get) map /.test(c));
  };

  await t.test('a new host: one get map of that host, no show map', async (t) => {
    hosts.set('c.example.org', 'app_a');
    t.same(await apply([{ op: 'map-add', key: 'c.example.org', value: 'app_a' }]), [`get map ${hostsMap} c.example.org`]);
  });

  await t.test('a key the ops do not touch is not read, even when it differs', async (t) => {
    await behindItsBack(`set map ${hostsMap} b.example.org app_a`);
    hosts.set('d.example.org', 'app_b');
    t.same(await apply([{ op: 'map-add', key: 'd.example.org', value: 'app_b' }]), [`get map ${hostsMap} d.example.org`]);
    await behindItsBack(`set map ${hostsMap} b.example.org app_b`);
  });

  await t.test('a changed key that HAProxy serves differently is caught', async (t) => {
    // An entry added behind the router's back comes first: requests for the host meet it, not the
    // router's (the whole-map read missed this one: the later duplicate hid it).
    await behindItsBack(`add map ${hostsMap} e.example.org app_b`);
    hosts.set('e.example.org', 'app_a');
    await t.rejects(executor.apply([{ op: 'map-add', key: 'e.example.org', value: 'app_a' }], desired()), {
      name: 'RuntimeRefusedError',
      message:
        /differs from the configuration after a runtime change: the runtime hosts map differs from hosts\.map at e\.example\.org: HAProxy has e\.example\.org app_b, the file says app_a/,
    });
    await behindItsBack(`add map ${file('maintenance.map')} app_a c3RhbGU=`);
    maps.get('maintenance.map')!.set('app_a', 'bmV3');
    await t.rejects(executor.apply([{ op: 'map-add', key: 'app_a', value: 'bmV3', map: 'maintenance.map' }], desired()), {
      message: /the runtime map maintenance\.map differs from the file at app_a: HAProxy has app_a c3RhbGU=, the file says bmV3/,
    });
  });

  await t.test('a removed host: absent as the file says', async (t) => {
    await behindItsBack(`del map ${hostsMap} e.example.org`);
    hosts.delete('e.example.org');
    hosts.delete('c.example.org');
    t.same(await apply([{ op: 'map-del', key: 'c.example.org' }]), [`get map ${hostsMap} c.example.org`]);
  });

  await t.test('a map looked up by domain is read whole: get map meets the parent domain', async (t) => {
    maps.set('domains.map', new Map([['a.example.org', 'app_a']]));
    t.same(await apply([{ op: 'map-del', key: 'x.a.example.org', map: 'domains.map' }]), [
      `get map ${file('domains.map')} x.a.example.org`,
      `show map ${file('domains.map')}`,
    ]);
    await behindItsBack(`add map ${file('domains.map')} y.a.example.org app_b`);
    maps.get('domains.map')!.set('z.example.org', 'app_b');
    await t.rejects(executor.apply([{ op: 'map-add', key: 'z.example.org', value: 'app_b', map: 'domains.map' }], desired()), {
      message: /the runtime map domains\.map differs from the file at y\.a\.example\.org/,
    });
  });
});
