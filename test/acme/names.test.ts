// Which names the ACME issuer orders: a table over a real model build (validation and conflict
// rules applied) and real certificates (openssl), with an injected clock.
import t from 'tap';
import { buildModel } from '../../src/model/build.js';
import { planNames, renewAt } from '../../src/acme/names.js';
import type { CertificateSecret } from '../../src/sources/vault/types.js';
import { selfSignedCertificate } from '../../dev/vault/pki.js';
import { CLUSTER, claim, mc, settings } from '../model/helpers.js';

const DAY = 86_400_000;
const RENEW = 30 * DAY;

t.test('names to order, renew or leave alone', async (t) => {
  const cert = async (name: string, days: number, source?: string, altNames?: string[]): Promise<CertificateSecret> => {
    const pair = await selfSignedCertificate({ commonName: name, altNames: altNames ?? [name], days });
    return source ? { ...pair, source } : pair;
  };
  const model = buildModel({
    services: {
      blog: [mc('blog', 1)],
      shop: [mc('shop', 2)],
      wiki: [mc('wiki', 3)],
      db: [mc('db', 4, { tags: ['router.mode=tcp', 'router.port=10001'] })],
      late: [mc('late', 5)],
    },
    claims: [
      claim('blog', 'www.example.org new.example.org fresh.example.org', 10),
      claim('shop', 'shop.example.net old.example.net wild.example.com other.example.net', 11),
      claim('wiki', `wiki.${CLUSTER} bad_name`, 12),
      claim('db', 'db.example.org', 13),
      claim('late', 'www.example.org', 14),
    ],
    settings,
  });
  const certificates: Record<string, CertificateSecret> = {
    default: await cert(`*.${CLUSTER}`, 365),
    'www.example.org': await cert('www.example.org', 365), // hand-placed (no source)
    'shop.example.net': await cert('shop.example.net', 90, 'operator'), // hand-placed (another source)
    'fresh.example.org': await cert('fresh.example.org', 90, 'acme'),
    'old.example.net': await cert('old.example.net', 10, 'acme'),
    '*.example.com': await cert('*.example.com', 365),
    'other.example.net': await cert('not-it.example.net', 90, 'acme'),
  };
  const now = Date.now();
  const plans = planNames({ model, certificates, clusterDomain: CLUSTER, renewBeforeMs: RENEW, now });
  const rows = Object.fromEntries(plans.map((p) => [p.host, [p.action, p.certificate?.source ?? null, p.reason]]));
  t.same(rows, {
    'fresh.example.org': ['none', 'acme', 'valid'],
    'new.example.org': ['order', null, 'no certificate in Vault'],
    'old.example.net': ['renew', 'acme', 'expires within renew_before'],
    'other.example.net': ['order', null, 'the ACME certificate tls/other.example.net in Vault is unusable'],
    'shop.example.net': ['none', 'vault', 'hand-placed certificate tls/shop.example.net wins over ACME'],
    'wild.example.com': ['none', 'vault', 'hand-placed certificate tls/*.example.com covers it'],
    'www.example.org': ['none', 'vault', 'hand-placed certificate tls/www.example.org wins over ACME'],
  });
  t.notOk(
    plans.some((p) => p.host.endsWith(CLUSTER)),
    'never a name of the cluster zone',
  );
  t.notOk(
    plans.some((p) => p.host === 'db.example.org'),
    'never a name of a tcp app',
  );
  t.equal(plans.find((p) => p.host === 'www.example.org')?.app, 'blog', 'a conflicting later claim does not make a second entry');

  await t.test('an expired ACME certificate is renewed; an expired hand-placed wildcard no longer covers', async (t) => {
    const later = now + 400 * DAY;
    const again = Object.fromEntries(
      planNames({ model, certificates, clusterDomain: CLUSTER, renewBeforeMs: RENEW, now: later }).map((p) => [p.host, [p.action, p.reason]]),
    );
    t.same(again['fresh.example.org'], ['renew', 'expired']);
    t.same(again['wild.example.com'], ['order', 'no certificate in Vault']);
    t.same(
      again['www.example.org'],
      ['none', 'hand-placed certificate tls/www.example.org wins over ACME'],
      'even expired, an exact hand-placed certificate is never replaced',
    );
  });

  await t.test('a large renew_before renews at once; renewAt is notAfter - renew_before', async (t) => {
    const plan = planNames({ model, certificates, clusterDomain: CLUSTER, renewBeforeMs: 100 * DAY, now }).find((p) => p.host === 'fresh.example.org')!;
    t.equal(plan.action, 'renew');
    t.equal(renewAt(plan, 100 * DAY), Date.parse(plan.certificate!.notAfter) - 100 * DAY);
    t.equal(renewAt(plans.find((p) => p.host === 'www.example.org')!, RENEW), undefined, 'nothing to renew for a hand-placed one');
  });

  await t.test('no custom domains: nothing to do', async (t) => {
    const bare = buildModel({ services: { blog: [mc('blog', 1)] }, claims: [], settings });
    t.same(planNames({ model: bare, certificates, clusterDomain: CLUSTER, renewBeforeMs: RENEW, now }), []);
  });
});
