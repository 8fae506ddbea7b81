// Property-based tests of the routing model (fast-check, fixed seed): random and hostile Consul
// catalogs, K/V claims and event sequences. The properties live in support.ts; `npm run fuzz`
// runs the same ones on many more cases. Replay another seed: PROPERTY_SEED=123 npx tap test/property
import fc from 'fast-check';
import { holds, inst, input } from './helpers.js';
import t from 'tap';

import { buildModel } from '../../src/model/build.js';
import type { ModelInput } from '../../src/model/types.js';
import { type Hostile, eventArb, hostileArb, inputArb } from './fixtures.js';
import { applyEvent, applyHostile, checkDeterminism, checkHostile, checkModel, checkTransition } from './support.js';

const seed = Number(process.env.PROPERTY_SEED ?? 7031);
const runs = (n: number) => ({ seed, numRuns: Number(process.env.PROPERTY_RUNS ?? n) });

/** Inputs that once broke a property: always checked first, whatever the seed. */
const regressions: ModelInput[] = [
  input({ web: [inst({ address: '-a' })], api: [inst({ address: 'a..b' }), inst({ address: '10.0.0.1:80' })] }),
  input({ '\u212aafka': [inst()], kafka: [inst({ address: '10.0.0.2' })] }, [
    { key: 'paas-router/domains/\u212aafka', value: 'www.example.org', createIndex: 1, modifyIndex: 1 },
  ]),
  input({ db: [inst({ tags: ['router.mode=tcp', 'router.port=10001'], createIndex: 5 })], web: [inst({ port: 0, tags: ['router.maxconn=1'] })] }),
];

t.test('(1) buildModel never throws, does not mutate its input, and ignores input order', async (t) => {
  holds(t, '300 random states', () =>
    fc.assert(
      fc.property(inputArb, fc.integer(), (input, shuffleSeed) => {
        checkDeterminism(input, shuffleSeed);
      }),
      { ...runs(300), examples: regressions.map((r) => [r, 1] as [ModelInput, number]) },
    ),
  );
});

t.test('(4) invariants: valid hosts, one backend per host, first claim wins, bad input reported', async (t) => {
  holds(t, '300 random states', () =>
    fc.assert(
      fc.property(inputArb, (input) => {
        checkModel(input, buildModel(input));
      }),
      { ...runs(300), examples: regressions.map((r) => [r] as [ModelInput]) },
    ),
  );
});

t.test('(4)(5) one bad instance, tag, claim or service name never changes another app', async (t) => {
  const db = inst({ id: 'mesos-consul:db', tags: ['router.mode=tcp', 'router.port=10001'], createIndex: 5 });
  const late = inst({ id: 'mesos-consul:late', tags: ['router.mode=tcp', 'router.port=10001'], createIndex: 9 });
  const base = input({ db: [db], late: [late], web: [inst()] }, [{ key: 'paas-router/domains/web', value: 'www.example.org', createIndex: 7, modifyIndex: 7 }]);
  const examples: [ModelInput, Hostile][] = [
    // An unusable instance with an early CreateIndex must not win port 10001 for "late".
    [base, { kind: 'instance', target: 'late', instance: inst({ id: 'mesos-consul:bad', port: 0, createIndex: 1 }) }],
    // ...nor turn the http app "web" into a tcp app on db's port.
    [base, { kind: 'instance', target: 'web', instance: inst({ address: '', tags: ['router.mode=tcp', 'router.port=10001'], createIndex: 1 }) }],
    // A claim under a name that lowercases onto "web" (KELVIN SIGN) takes nothing.
    [base, { kind: 'claim', variant: 'unrouted', service: '\u212aweb', key: '', value: 'www.example.org', createIndex: 0 }],
    [base, { kind: 'service', name: '\u212aweb', instances: [inst()] }],
  ];
  holds(t, '300 random states + one hostile addition', () =>
    fc.assert(
      fc.property(inputArb, hostileArb, (input, hostile) => {
        const before = buildModel(input);
        const applied = applyHostile(input, before, hostile);
        checkModel(applied.input, checkHostile(before, applied));
      }),
      { ...runs(300), examples },
    ),
  );
});

t.test('Consul event sequences: every state holds the invariants, every step only changes what it may', async (t) => {
  holds(t, '150 sequences of up to 12 events from an empty catalog', () =>
    fc.assert(
      fc.property(fc.array(eventArb, { minLength: 1, maxLength: 12 }), (events) => {
        let state = { input: input({}), model: buildModel(input({})) };
        for (const event of events) {
          const next = applyEvent(state.input, event);
          const model = buildModel(next.input);
          checkModel(next.input, model);
          checkTransition(state, event, next, model);
          state = { input: next.input, model };
        }
      }),
      runs(150),
    ),
  );
  holds(t, '100 sequences from a random (possibly hostile) state', () =>
    fc.assert(
      fc.property(inputArb, fc.array(eventArb, { maxLength: 8 }), (start, events) => {
        let state = { input: start, model: buildModel(start) };
        for (const event of events) {
          const next = applyEvent(state.input, event);
          const model = buildModel(next.input);
          checkModel(next.input, model);
          checkTransition(state, event, next, model);
          state = { input: next.input, model };
        }
      }),
      runs(100),
    ),
  );
});
