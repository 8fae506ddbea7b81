// Ownership under random tenants (claims-support.ts): no app loses a name it holds to a later
// claimant, with two routers recording owners, one of them a step behind.
import fc from 'fast-check';
import t from 'tap';
import { claimSequenceArb, runClaimSequence, type ClaimEvent } from './claims-support.js';
import { holds } from './helpers.js';

t.test('200 sequences of registrations and K/V writes by hostile tenants', async (t) => {
  holds(t, 'no name is lost to a later claimant', () =>
    fc.assert(
      fc.property(claimSequenceArb, (events) => runClaimSequence(events)),
      { numRuns: 200 },
    ),
  );
});

t.test('the findings of the tenant review, as sequences', async (t) => {
  const steal: ClaimEvent[] = [
    { type: 'register', app: 'web' },
    { type: 'register', app: 'evil' },
    { type: 'domains', app: 'evil', hosts: ['example.org'] },
    { type: 'domains', app: 'web', hosts: ['www.example.org'] },
    // evil's key is older: adding the victim's host to it used to take the host.
    { type: 'domains', app: 'evil', hosts: ['example.org', 'www.example.org'] },
  ];
  holds(t, 'a host added to an older key', () => runClaimSequence(steal));
  holds(t, 'a port taken with an old CreateIndex', () =>
    runClaimSequence([
      { type: 'register', app: 'web', port: 10001 },
      { type: 'register', app: 'evil', port: 10001, createIndex: 1 },
    ]),
  );
  holds(t, 'a group joined, then a service named like it', () =>
    runClaimSequence([
      { type: 'register', app: 'shop-a', group: 'shop' },
      { type: 'register', app: 'evil', group: 'shop', createIndex: 1 },
      { type: 'register', app: 'shop', createIndex: 1 },
    ]),
  );
});
