// The claim recorder against the real Consul agent: records are created once (the second router's
// create-if-absent loses), an owner that stops asking is marked idle and released after the grace
// period on an injected clock, and a pass never repeats a lost write in a loop.
import t from 'tap';
import { ClaimRecorder, READ_BACK_MS } from '../../src/claims/recorder.js';
import { createLogger } from '../../src/log.js';
import type { OwnedName } from '../../src/model/types.js';
import { ConsulClient } from '../../src/sources/consul/client.js';
import { consulAgentSkip, startTestConsulAgent } from '../helpers/consul-agent.js';
import { kvGet } from '../cli/helpers.js';

const KEY = 'paas-router/claims/hosts/www.example.org';
const host = (over: Partial<OwnedName>): OwnedName => ({
  kind: 'host',
  name: 'www.example.org',
  key: KEY,
  owner: 'site',
  ownerAsks: true,
  others: [],
  ...over,
});

t.test('the recorder on a real agent', { skip: consulAgentSkip() }, async (t) => {
  const consul = await startTestConsulAgent(t);
  const client = new ConsulClient({ address: consul.url, token: () => '' });
  t.teardown(() => client.close());
  let now = 1_000_000;
  const recorder = (name: string) => new ClaimRecorder({ client, graceMs: 60_000, log: createLogger('silent').child({ name }), now: () => now });
  const a = recorder('a');
  const b = recorder('b');

  await a.reconcile([host({})]);
  // The second router saw another first claimant: its create-if-absent loses.
  await b.reconcile([host({ owner: 'evil' })]);
  t.same(JSON.parse((await kvGet(consul.url, KEY))!.value), { owner: 'site' });
  t.same(a.totals, { written: 1, lost: 0, failed: 0 });
  t.same(b.totals, { written: 0, lost: 1, failed: 0 });

  const record = async () => {
    const e = (await kvGet(consul.url, KEY))!;
    return {
      modifyIndex: e.modifyIndex,
      createIndex: e.createIndex,
      valid: true,
      ...(JSON.parse(e.value).idle_since ? { idleSince: JSON.parse(e.value).idle_since } : {}),
    };
  };
  await a.reconcile([host({ ownerAsks: false, others: ['evil'], record: await record() })]);
  t.same(JSON.parse((await kvGet(consul.url, KEY))!.value), { owner: 'site', idle_since: now }, 'marked idle');
  now += 59_999;
  await a.reconcile([host({ ownerAsks: false, others: ['evil'], record: await record() })]);
  t.ok(await kvGet(consul.url, KEY), 'kept within the grace period');
  now += 1;
  await a.reconcile([host({ ownerAsks: false, others: ['evil'], record: await record() })]);
  t.equal(await kvGet(consul.url, KEY), undefined, 'released after it');
  await b.reconcile([host({ owner: 'evil' })]);
  t.same(JSON.parse((await kvGet(consul.url, KEY))!.value), { owner: 'evil' }, 'the next claimant records itself');

  // A stale view (an old ModifyIndex) writes nothing: the check-and-set loses.
  await a.reconcile([host({ ownerAsks: false, record: { modifyIndex: 1, createIndex: 1, valid: true } })]);
  t.same(JSON.parse((await kvGet(consul.url, KEY))!.value), { owner: 'evil' });
  t.equal(a.totals.lost, 1);

  // A first start records many names at once: transactions of 64, one request each.
  const many = Array.from({ length: 70 }, (_, i) => host({ name: `h${i}.example.org`, key: `paas-router/claims/hosts/h${i}.example.org`, owner: `app${i}` }));
  const before = client.traffic.requests;
  await a.reconcile(many);
  t.equal(client.traffic.requests - before, 2, '70 records in 2 transactions');
  t.same(JSON.parse((await kvGet(consul.url, 'paas-router/claims/hosts/h69.example.org'))!.value), { owner: 'app69' });
  // A build that has not read the records back yet asks for the same writes: none is sent again
  // (they would all lose, and a lost transaction goes one write at a time).
  const sent = client.traffic.requests;
  const lostAtFirst = a.totals.lost;
  await a.reconcile(many);
  t.equal(client.traffic.requests - sent, 0, 'the writes just made are not sent again');
  t.equal(a.totals.lost, lostAtFirst);
  now += READ_BACK_MS;
  await a.reconcile(many);
  t.ok(client.traffic.requests - sent > 0, 'after READ_BACK_MS without reading them back, they are tried again');
  t.equal(a.totals.lost - lostAtFirst, 70, 'and lose, the records being there');
  // One of them taken meanwhile: its transaction rolls back, the others are written one by one.
  const taken = Array.from({ length: 5 }, (_, i) => host({ name: `t${i}.example.org`, key: `paas-router/claims/hosts/t${i}.example.org`, owner: 'site' }));
  await b.reconcile([host({ name: 't2.example.org', key: 'paas-router/claims/hosts/t2.example.org', owner: 'evil' })]);
  const lostBefore = a.totals.lost;
  await a.reconcile(taken);
  t.same(JSON.parse((await kvGet(consul.url, 'paas-router/claims/hosts/t2.example.org'))!.value), { owner: 'evil' }, 'the first write stays');
  t.same(JSON.parse((await kvGet(consul.url, 'paas-router/claims/hosts/t4.example.org'))!.value), { owner: 'site' }, 'the rest are written');
  t.equal(a.totals.lost - lostBefore, 1);
});
