// What the claim recorder writes for each state of a record: table tests of planClaimWrites.
import t from 'tap';
import { planClaimWrites } from '../../src/claims/plan.js';
import type { OwnedName } from '../../src/model/types.js';

const GRACE = 3_600_000;
const NOW = 10_000_000;
const owned = (over: Partial<OwnedName>): OwnedName => ({
  kind: 'host',
  name: 'www.example.org',
  key: 'paas-router/claims/hosts/www.example.org',
  owner: 'site',
  ownerAsks: true,
  others: [],
  ...over,
});

const cases: [string, OwnedName, unknown[]][] = [
  ['not recorded: created for the first claimant, create-if-absent', owned({}), [{ op: 'put', cas: 0, value: { owner: 'site' }, why: 'new' }]],
  [
    'a group name: recorded with its members',
    owned({ kind: 'name', name: 'shop', key: 'paas-router/claims/names/shop', owner: 'shop-blue', as: 'group', members: ['shop-blue', 'shop-green'] }),
    [{ op: 'put', cas: 0, value: { owner: 'shop-blue', as: 'group', members: ['shop-blue', 'shop-green'] }, why: 'new' }],
  ],
  ['recorded and asked for: nothing to write', owned({ record: { modifyIndex: 7, createIndex: 7, valid: true } }), []],
  [
    'a value that is not ours: rewritten with check-and-set',
    owned({ record: { modifyIndex: 7, createIndex: 5, valid: false } }),
    [{ op: 'put', cas: 7, value: { owner: 'site' }, why: 'invalid' }],
  ],
  [
    'the owner stopped asking: marked idle now',
    owned({ ownerAsks: false, record: { modifyIndex: 7, createIndex: 5, valid: true } }),
    [{ op: 'put', cas: 7, value: { owner: 'site', idle_since: NOW }, why: 'idle' }],
  ],
  [
    'idle for less than the grace period: kept',
    owned({ ownerAsks: false, record: { modifyIndex: 8, createIndex: 5, valid: true, idleSince: NOW - GRACE + 1 } }),
    [],
  ],
  [
    'idle for the grace period: released (deleted with check-and-set)',
    owned({ ownerAsks: false, others: ['evil'], record: { modifyIndex: 8, createIndex: 5, valid: true, idleSince: NOW - GRACE } }),
    [{ op: 'delete', cas: 8, why: 'released' }],
  ],
  [
    'the owner asks again: the idle mark is cleared',
    owned({ record: { modifyIndex: 8, createIndex: 5, valid: true, idleSince: NOW - 5 } }),
    [{ op: 'put', cas: 8, value: { owner: 'site' }, why: 'back' }],
  ],
];

for (const [name, o, expected] of cases) {
  t.test(name, async (t) => {
    t.match(planClaimWrites([o], NOW, GRACE), expected);
    t.equal(planClaimWrites([o], NOW, GRACE).length, expected.length);
  });
}
