// fast-check arbitraries for the property tests and `npm run fuzz`: Consul catalogs, K/V domain
// claims, Consul event sequences, hostile additions and render settings. Valid, almost-valid and
// hostile values are mixed on purpose; small pools of names make collisions and conflicts likely.
// (Not a test file: tap skips fixtures.ts; shared by test/property/*.test.ts and bench/fuzz.ts.)
import fc from 'fast-check';

import { TAG_KEYS } from '../../src/model/tag-table.js';
import type { ModelInput, ModelSettings } from '../../src/model/types.js';
import type { DomainClaim, ServiceInstance } from '../../src/sources/types.js';

export const MODEL_SETTINGS: ModelSettings = {
  cluster: 'production',
  baseDomain: 'mozilla.community',
  serviceIdPrefixes: ['mesos-consul:'],
  domainsPrefix: 'paas-router/domains/',
  reservedPorts: [80, 443, 8404],
  // haproxy.tcp_ports: every router.port of VALID_TAGS is inside, random ones mostly are not.
  tcpPorts: [
    { from: 10000, to: 10999 },
    { from: 65535, to: 65535 },
  ],
};
export const CLUSTER = 'production.mozilla.community';
export const PREFIX = MODEL_SETTINGS.domainsPrefix;
export const ID_PREFIX = 'mesos-consul:';

// ---- building blocks --------------------------------------------------------------------------

/** Characters that break config lines, log lines, shells or parsers, or look like something else. */
export const HOSTILE_CHARS = [
  ' ',
  '\t',
  '\n',
  '\r',
  '\0',
  '\v',
  '\f',
  '\x1b',
  '\x7f',
  '\x85',
  '"',
  "'",
  '`',
  '#',
  ';',
  '\\',
  '%',
  '$',
  '{',
  '}',
  '[',
  ']',
  '(',
  ')',
  '/',
  ':',
  '=',
  ',',
  '*',
  '@',
  '&',
  '|',
  '<',
  '>',
  '_',
  '\u00a0',
  '\u2028',
  '\u2029',
  '\u202e',
  '\u200b',
  '\ufeff',
  'ü',
  'é',
  'ß',
  '\u0130',
  '\u212a',
  '\u{1f600}',
  '\uff0e',
  '\u3002',
];
const hostileChar = fc.constantFrom(...HOSTILE_CHARS);

/** A valid base with 1..3 hostile characters inserted at random places. */
function spliced(base: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.tuple(base, fc.array(fc.tuple(hostileChar, fc.nat()), { minLength: 1, maxLength: 3 })).map(([b, inserts]) => {
    let s = b;
    for (const [c, at] of inserts) {
      const i = at % (s.length + 1);
      s = s.slice(0, i) + c + s.slice(i);
    }
    return s;
  });
}

const label63 = 'a'.repeat(63);
/** Service names whose default host (`.production.mozilla.community`, 29 chars) is 253 and 254 long. */
const NAME_AT_LIMIT = `${label63}.${label63}.${label63}.${'c'.repeat(32)}`;
const NAME_OVER_LIMIT = `${NAME_AT_LIMIT}c`;

export const VALID_NAMES = ['web', 'api', 'blog', 'irc', 'db', 'shop', 'wordpress-community', 'group.app', 'a', 'xn--bcher-kva', '0day', 'kafka'];
const ALMOST_VALID_NAMES = [
  'Web',
  'WEB',
  'Blog',
  'API',
  'Kafka',
  '-web',
  'web-',
  'a_b',
  'a..b',
  '.web',
  'web.',
  'xn--',
  label63,
  `${label63}a`,
  NAME_AT_LIMIT,
  NAME_OVER_LIMIT,
  'consul',
  'Consul',
  'web.production',
  '__proto__',
  'constructor',
  'toString',
];
/** Names that can never be a valid service name, whatever the normalisation. */
export const HOSTILE_NAMES = [
  '',
  ' ',
  'web ',
  ' web',
  'a b',
  'web\n',
  'web\nserver evil 1.2.3.4:80',
  'we#b',
  'web;',
  'we"b',
  "we'b",
  'web\\',
  'we%b',
  'we$b',
  'w\u0000eb',
  'wéb',
  'ünï',
  'xn--bücher',
  '\u212aafka' /* KELVIN SIGN: lowercases to "kafka" */,
  'web\u202e',
  'w\u200beb',
  'web\u2028',
  'x'.repeat(300),
  'a/b',
  'a:b',
  '*',
  'web\uff0eapi',
];

const validNameArb = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...VALID_NAMES) },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,10}[a-z0-9]$/) },
);
/** Definitely not a routable service name (the model must reject it). */
export const hostileNameArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_NAMES) },
  { weight: 2, arbitrary: spliced(fc.constantFrom(...VALID_NAMES)).filter((s) => /[^A-Za-z0-9.-]/.test(s)) },
  {
    weight: 1,
    arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }).filter((s) => /[^A-Za-z0-9.-]/.test(s)),
  },
);
export const serviceNameArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: validNameArb },
  { weight: 2, arbitrary: fc.constantFrom(...ALMOST_VALID_NAMES) },
  { weight: 1, arbitrary: hostileNameArb },
);

export const indexArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom(NaN, -1, Infinity, -Infinity, 1_000_000, 2.5) },
);

// ---- instances --------------------------------------------------------------------------------

const GOOD_ADDRESSES = [
  '10.0.0.1',
  '10.0.0.2',
  '10.0.0.3',
  '127.0.0.1',
  'fd00::1',
  'fe80::1',
  '::1',
  '::ffff:10.0.0.1',
  'node1',
  'Node1',
  'agent-2.dc1.consul',
  'FD00::1',
  '1.2.3',
  '999.1.1.1',
  '0',
  'a.',
  `${label63}a`,
  'a'.repeat(255),
];
/** Addresses the model must refuse (they either fail `haproxy -c` or cannot be printed). */
export const BAD_ADDRESSES = [
  '',
  ' ',
  'a..b',
  '.a',
  '-a',
  '...',
  'a:b',
  '1:2',
  ':::',
  '10.0.0.1:80',
  '[::1]',
  '[fe80::1]',
  'fe80::1%eth0',
  '10.0.0.1 ',
  ' 10.0.0.1',
  'a#b',
  'a;b',
  "a'b",
  'a"b',
  'a\\b',
  'a\nb',
  '10.0.0.1\nserver evil 1.2.3.4:80',
  'ünï',
  'bücher.de',
  'a'.repeat(256),
  'a_b',
  'ipv6@::1',
  'unix@/tmp/x',
  '10.0.0.0/8',
  '$HOST',
  '%00',
  '-',
  '.',
];
const addressArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...GOOD_ADDRESSES.slice(0, 8)) },
  { weight: 2, arbitrary: fc.constantFrom(...GOOD_ADDRESSES) },
  { weight: 2, arbitrary: fc.ipV4() },
  { weight: 2, arbitrary: fc.ipV6() },
  { weight: 1, arbitrary: fc.ipV4Extended() },
  { weight: 1, arbitrary: fc.domain() },
  { weight: 3, arbitrary: fc.constantFrom(...BAD_ADDRESSES) },
  { weight: 1, arbitrary: spliced(fc.constantFrom('10.0.0.1', 'node1', 'fd00::1')) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 20 }) },
);

export const BAD_PORTS = [0, -1, -0, 65536, 70000, NaN, Infinity, -Infinity, 1.5, 31000.5, Number.MAX_SAFE_INTEGER];
const portArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(31000, 31001, 31002, 8080) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 65535 }) },
  { weight: 1, arbitrary: fc.constantFrom(1, 65535, 80, 443) },
  { weight: 2, arbitrary: fc.constantFrom(...BAD_PORTS) },
);

// Edge tags (docs/edge.md), kept apart from the original lists.
const VALID_EDGE_TAGS = [
  'router.hsts=0',
  'router.hsts=600',
  'router.hsts=31536000',
  'router.hsts=63072000',
  'router.hsts-subdomains',
  'router.hsts-subdomains=true',
  'router.hsts-subdomains=false',
  'router.timeout-client=30s',
  'router.timeout-client=1H',
  'router.timeout-connect=500ms',
  'router.timeout-connect=5s',
  'router.max-body=1',
  'router.max-body=1k',
  'router.max-body=20M',
  'router.max-body=64g',
  'router.port=10999',
];
const INVALID_EDGE_TAGS = [
  'router.hsts',
  'router.hsts=',
  'router.hsts=-1',
  'router.hsts=00',
  'router.hsts=63072001',
  'router.hsts=1y',
  'router.hsts=5;preload',
  'router.hsts="5"',
  'router.hsts-subdomains=yes',
  'router.timeout-client=0s',
  'router.timeout-client=25h',
  'router.timeout-connect=5',
  'router.timeout-connect=1.5s',
  'router.max-body=0',
  'router.max-body=65g',
  'router.max-body=1t',
  'router.max-body=1kb',
  'router.max-body=1.5m',
  'router.max-body=1k;x',
  'router.port=2181',
  'router.port=5050',
  'router.port=8500',
  'router.port=9999',
  'router.port=11000',
];

/**
 * Feature tags (second wave): valid syntax; whether they apply is the model's business (redirect
 * target, group agreement). Kept out of VALID_TAGS: the model oracle of support.ts does not know
 * groups and paths; test/property/features.test.ts checks them with its own invariants.
 */
export const FEATURE_TAGS = [
  'router.redirect=www.example.org',
  'router.redirect=web.production.mozilla.community',
  'router.allow=10.0.0.0/8',
  'router.allow=10.0.0.0/8 192.0.2.7 ::1 2001:db8::/32',
  'router.allow=0.0.0.0/0',
  'router.group=grp',
  'router.group=GRP',
  'router.path=/forum',
  'router.path=/forum/v1.0',
  'router.path=/a',
  'router.strip-path',
  'router.strip-path=false',
  'router.auth=staging',
  'router.auth=Admin-2.0',
  'router.auth=grp',
  'router.rate-limit=20/10s',
  'router.rate-limit=1/1s',
  'router.rate-limit=1000000/24h',
  'router.rate-limit-path=/wp-login.php',
  // Third wave.
  'router.compress',
  'router.compress=false',
  'router.compress=TRUE',
  'router.timeout-tunnel=1h',
  'router.timeout-tunnel=30S',
  'router.timeout-tunnel=24h',
  'router.proto=h2',
  'router.proto=H2',
  'router.proto=h1',
  'router.canary=header:X-Canary=1',
  'router.canary=header:x-canary=1',
  'router.canary=cookie:canary=yes',
  'router.canary=cookie:Track_2=v.1~b',
  // Sizes that often add up past the default haproxy.cache_max_size (256m): the budget decides.
  'router.cache=1m',
  'router.cache=64M',
  'router.cache=200m',
  'router.cache=1g',
];
const INVALID_FEATURE_TAGS = [
  'router.rate-limit=0/10s',
  'router.rate-limit=20',
  'router.rate-limit=20/0s',
  'router.rate-limit=20/500ms',
  'router.rate-limit=20/25h',
  'router.rate-limit=1000001/1s',
  'router.rate-limit=20/10s;x',
  'router.rate-limit-path=wp-login.php',
  'router.rate-limit-path=/a b',
  'router.cache=0',
  'router.cache=0m',
  'router.cache=64',
  'router.cache=4096m',
  'router.cache=5g',
  'router.cache=512k',
  'router.cache=1.5g',
  'router.cache=',
  'router.compress=yes',
  'router.compress=gzip',
  'router.compress=',
  'router.timeout-tunnel=0s',
  'router.timeout-tunnel=25h',
  'router.timeout-tunnel=forever',
  'router.timeout-tunnel=10',
  'router.proto=h3',
  'router.proto=grpc',
  'router.proto=http/2',
  'router.proto=h2 h1',
  'router.canary=header:X_Canary=1',
  'router.canary=query:x=1',
  'router.canary=cookie:c=',
  'router.canary=header:X-Canary',
  'router.canary=cookie:c=a;b',
  'router.canary=cookie:c=a"b',
  'router.canary=header:=1',
  'router.auth',
  'router.auth=',
  'router.auth=a b',
  'router.auth="realm"',
  'router.auth=a#b',
  'router.auth=%[src]',
  `router.auth=${'r'.repeat(65)}`,
  'router.redirect=https://x.org',
  'router.redirect=x',
  'router.redirect=',
  'router.allow=10.0.0.0/33',
  'router.allow=10.0.0.0/8  ::1',
  'router.allow=host.example.org',
  'router.allow= 10.0.0.1',
  'router.allow=10.0.0.1 ',
  'router.group=a_b',
  'router.group=',
  'router.path=/',
  'router.path=forum',
  'router.path=/forum/',
  'router.path=/a/../b',
  'router.path=/a%20b',
  "router.path=/a'b",
  'router.strip-path=yes',
  'router.allow=10.0.0.0/8\n',
  'router.path=/a\u0000',
];
export const VALID_TAGS = [
  'router.mode=http',
  'router.mode=tcp',
  'router.mode=TCP',
  'router.port=10001',
  'router.port=10002',
  'router.port=10003',
  'router.port=65535',
  'router.balance=leastconn',
  'router.balance=source',
  'router.balance=uri',
  'router.balance=first',
  'router.balance=RoundRobin',
  'router.healthcheck=/',
  'router.healthcheck=/health',
  'router.healthcheck=/srv/status?probe=1&x=%41',
  `router.healthcheck=/${'a'.repeat(199)}`,
  'router.healthcheck=/~!*+,=:@/?&-._',
  'router.https-only',
  'router.https-only=true',
  'router.https-only=false',
  'router.sticky',
  'router.sticky=true',
  'router.sticky=FALSE',
  'router.maxconn=1',
  'router.maxconn=100000',
  'router.timeout-server=120s',
  'router.timeout-server=24h',
  'router.timeout-server=86400000ms',
  'router.timeout-server=1M',
  'router.expose',
  'router.expose=true',
  'router.skip',
  'router.skip=false',
  ...VALID_EDGE_TAGS,
];
/** Tags the model must refuse (they never vote and never reach the configuration). */
export const INVALID_TAGS = [
  'router.mode=udp',
  'router.mode=',
  'router.mode',
  'router.port=80',
  'router.port=443',
  'router.port=8404',
  'router.port=0',
  'router.port=65536',
  'router.port=010001',
  'router.port=-1',
  'router.port=1e4',
  'router.port',
  'router.balance=hdr(host)',
  'router.balance=roundrobin;x',
  'router.balance=',
  'router.healthcheck=x',
  'router.healthcheck=/a b',
  'router.healthcheck=/x"y',
  "router.healthcheck=/x'y",
  'router.healthcheck=/a#b',
  'router.healthcheck=/%zz',
  'router.healthcheck=/$HOME',
  'router.healthcheck=/a\\b',
  'router.healthcheck=/a;b',
  'router.healthcheck=/%[src]',
  'router.healthcheck=/ü',
  `router.healthcheck=/${'a'.repeat(200)}`,
  'router.healthcheck=/\nserver evil 1.2.3.4:80',
  'router.maxconn=0',
  'router.maxconn=100001',
  'router.maxconn=-5',
  'router.timeout-server=0s',
  'router.timeout-server=25h',
  'router.timeout-server=1d',
  'router.timeout-server=10',
  'router.sticky=yes',
  'router.https-only=1',
  'router.expose=yes',
  'router.skip=yes',
  'router.',
  'router.=x',
  'router.foo',
  'router.foo=bar',
  'router.Mode=tcp',
  'router.mode=tcp\n',
  'router.mode=tcp\u2028',
  'router.\u0000',
  'router.balance=source ',
  'router. mode=tcp',
  'router.mode=t\u0000cp',
  'router.port=1000\u0661',
  ...INVALID_EDGE_TAGS,
  ...INVALID_FEATURE_TAGS,
];
const hostileValueArb = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 20 }),
  spliced(fc.constantFrom('tcp', '10001', 'leastconn', '/health', '120s', 'true', '100')),
);
/** A `router.` tag that is certainly rejected (or not ours at all). */
export const invalidTagArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...INVALID_TAGS) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.constantFrom(...VALID_TAGS), fc.constantFrom(' ', '\t', '\n', '\0', '\u2028', '\x85', '\x7f'), fc.nat()).map(([tag, c, at]) => {
      const i = 'router.'.length + (at % (tag.length - 'router.'.length + 1));
      return tag.slice(0, i) + c + tag.slice(i);
    }),
  },
);
const tagArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...VALID_TAGS) },
  { weight: 3, arbitrary: invalidTagArb },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...TAG_KEYS), hostileValueArb).map(([k, v]) => `router.${k}=${v}`) },
  { weight: 1, arbitrary: fc.constantFrom('primary', 'http', 'traefik.enable=true', '', 'v1', 'router', 'ROUTER.expose') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }).map((s) => `router.${s}`) },
);

const idTailArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('agent1:x:1', 'agent2:x:2', 'agent3:x:3', 'agent1:x:4') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
);

interface InstanceParts {
  bridged: boolean;
  idPrefix: string;
  idTail: string;
  node: string;
  address: string;
  port: number;
  tags: string[];
  passing: boolean;
  createIndex: number | undefined;
}

function toInstance(p: InstanceParts): ServiceInstance {
  const inst: ServiceInstance = {
    id: `${p.bridged ? ID_PREFIX : p.idPrefix}${p.idTail}`,
    node: p.node,
    address: p.address,
    port: p.port,
    tags: p.tags,
    passing: p.passing,
    checks: [{ id: 'serfHealth', status: p.passing ? 'passing' : 'critical' }],
  };
  if (p.createIndex !== undefined) inst.createIndex = p.createIndex;
  return inst;
}

function instanceArbWith(address: fc.Arbitrary<string>, port: fc.Arbitrary<number>): fc.Arbitrary<ServiceInstance> {
  return fc
    .record({
      bridged: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
      idPrefix: fc.constantFrom('', 'marathon:', 'MESOS-CONSUL:', 'mesos-consul', ' mesos-consul:'),
      idTail: idTailArb,
      node: fc.constantFrom('agent1', 'agent2', 'agent3', ''),
      address,
      port,
      tags: fc.array(tagArb, { maxLength: 5 }),
      passing: fc.boolean(),
      createIndex: fc.option(indexArb, { nil: undefined, freq: 4 }),
    })
    .map(toInstance);
}

export const instanceArb: fc.Arbitrary<ServiceInstance> = instanceArbWith(addressArb, portArb);

/** An instance the model must skip: its address or its port cannot be used (tags may be anything). */
export const badInstanceArb: fc.Arbitrary<ServiceInstance> = fc.oneof(
  instanceArbWith(fc.constantFrom(...BAD_ADDRESSES), portArb),
  instanceArbWith(addressArb, fc.constantFrom(...BAD_PORTS)),
);

// ---- K/V domain claims ------------------------------------------------------------------------

const FQDN_253 = `${label63}.${label63}.${label63}.${'b'.repeat(57)}.org`;
const FQDN_254 = `${label63}.${label63}.${label63}.${'b'.repeat(58)}.org`;
const GOOD_FQDNS = [
  'www.example.org',
  'shop.example.org',
  'a.example.org',
  'example.org',
  'b.example.com',
  'WWW.Example.Org',
  'xn--bcher-kva.de',
  'a-b.c-d.io',
  'x.y.z.example.net',
  'www.example.org',
  'web.production.mozilla.community',
  'production.mozilla.community',
  'x.web.production.mozilla.community',
  'PRODUCTION.Mozilla.Community',
  'mozilla.community',
  `${label63}.org`,
  FQDN_253,
  '0.example.org',
  'a.b1',
];
/** Tokens the model must reject as host names. */
export const BAD_FQDNS = [
  'bücher.de',
  'a.org:80',
  'a.org:8080',
  'http://a.org',
  'a.org/path',
  '*.a.org',
  'a.org.',
  '.a.org',
  'a..org',
  '-a.org',
  'a-.org',
  'localhost',
  '1.2.3.4',
  'a.123',
  '"a.org"',
  "'a.org'",
  'a.org#x',
  '#a.org',
  'a.org;b',
  'a\\.org',
  'a\u0000.org',
  'a.org\u202e',
  '\u212a.example.org',
  'a_b.org',
  `${'a'.repeat(64)}.org`,
  FQDN_254,
  '%41.org',
  '$HOME.org',
  '`x`.org',
  'a.org\x7f',
  'a.org\x85',
  'a\u200b.org',
  'exa\u0301mple.org',
  'a\uff0eorg',
  '[::1]',
  'a.org}',
  'a.org$',
  'xn--bcher-kva.de:443',
];
const fqdnTokenArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...GOOD_FQDNS) },
  { weight: 2, arbitrary: fc.domain() },
  { weight: 3, arbitrary: fc.constantFrom(...BAD_FQDNS) },
  { weight: 2, arbitrary: spliced(fc.constantFrom('www.example.org', 'a.example.org')) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
);
const SEPARATORS = [',', ' ', '\n', ', ', '\t', '\r\n', ',,', ' , ', '\u00a0', '\u2028', '\n\n', '\u3000', '\v'];
const separatorArb = fc.constantFrom(...SEPARATORS);

function joinTokens(tokens: string[], seps: string[], edge: string): string {
  return edge + tokens.map((t, i) => (i === 0 ? t : `${seps[i % seps.length]}${t}`)).join('') + edge;
}

const HUGE = 100_000;
/** ~100 KB values: thousands of valid hosts, one endless token, or valid and invalid mixed. */
const hugeValueArb: fc.Arbitrary<string> = fc.tuple(fc.constantFrom('many', 'junk', 'mixed', 'long-labels'), fc.nat({ max: 99 })).map(([kind, n]) => {
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < HUGE; i++) {
    const part =
      kind === 'many'
        ? `h${i}.big${n}.example.org`
        : kind === 'junk'
          ? 'x'.repeat(HUGE)
          : kind === 'mixed'
            ? i % 2 === 0
              ? `m${i}.mix${n}.example.org`
              : `bad#${i}\u0000.org`
            : `${'l'.repeat(60)}${i}.${'k'.repeat(60)}.example.org`;
    parts.push(part);
    size += part.length + 1;
  }
  return parts.join(kind === 'mixed' ? ', ' : '\n');
});

export const claimValueArb: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 30,
    arbitrary: fc
      .tuple(fc.array(fqdnTokenArb, { maxLength: 6 }), fc.array(separatorArb, { minLength: 1, maxLength: 4 }), fc.constantFrom('', ' ', '\n', ','))
      .map(([tokens, seps, edge]) => joinTokens(tokens, seps, edge)),
  },
  { weight: 1, arbitrary: hugeValueArb },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
);
/** A value whose every token is rejected (possibly empty). */
export const badClaimValueArb: fc.Arbitrary<string> = fc
  .tuple(fc.array(fc.constantFrom(...BAD_FQDNS), { maxLength: 5 }), fc.array(separatorArb, { minLength: 1, maxLength: 3 }))
  .map(([tokens, seps]) => joinTokens(tokens, seps, ''));

/** Keys that never name a service: outside the prefix, nested, or empty. */
export const BAD_KEYS = [
  PREFIX,
  'paas-router/domains',
  'paas-router/other/web',
  'web',
  '',
  `${PREFIX}web/extra`,
  `${PREFIX}a/`,
  `${PREFIX}/web`,
  `PAAS-ROUTER/domains/web`,
  `${PREFIX}web/`,
  ` ${PREFIX}web`,
  `${PREFIX.slice(0, -1)}\\web`,
];
export const claimKeyArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: serviceNameArb.map((n) => `${PREFIX}${n}`) },
  { weight: 1, arbitrary: fc.constantFrom(...BAD_KEYS) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }).map((s) => `${PREFIX}${s}`) },
);

export const claimArb: fc.Arbitrary<DomainClaim> = fc
  .record({ key: claimKeyArb, value: claimValueArb, createIndex: indexArb, bump: fc.nat({ max: 5 }) })
  .map(({ key, value, createIndex, bump }) => ({ key, value, createIndex, modifyIndex: createIndex + bump }));

// ---- whole states -----------------------------------------------------------------------------

export const servicesArb: fc.Arbitrary<Record<string, ServiceInstance[]>> = fc
  .array(fc.tuple(serviceNameArb, fc.array(instanceArb, { maxLength: 4 })), { maxLength: 8 })
  .map((entries) => Object.fromEntries(entries));

// Second wave: group weights and maintenance pages, good and bad.
const featureKeyArb = (prefix: string) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.oneof(serviceNameArb, fc.constantFrom('grp')).map((n) => `${prefix}${n}`) },
    { weight: 1, arbitrary: fc.constantFrom(prefix, `${prefix}a/b`, `${prefix}\u212aafka`, 'paas-router/other/x') },
  );
const weightsValueArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.array(fc.tuple(serviceNameArb, fc.integer({ min: 0, max: 256 })), { maxLength: 4 }).map((l) => l.map(([a, w]) => `${a}=${w}`).join(' ')),
  },
  { weight: 1, arbitrary: fc.constantFrom('', 'a=257', 'a=-1', 'a=1 a=2', '=3', 'a=01', 'x') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
);
const maintenanceValueArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('', 'Back soon', 'Back at 10:00\nUTC', '<b>"x"</b> \\ %[src] #;', 'caf\u00e9 \t tab') },
  { weight: 1, arbitrary: fc.constantFrom('x'.repeat(1025), 'bell\u0007', '\u0000') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
);
const entryArb = (prefix: string, value: fc.Arbitrary<string>) =>
  fc
    .record({ key: featureKeyArb(prefix), value, createIndex: indexArb })
    .map(({ key, value, createIndex }) => ({ key, value, createIndex, modifyIndex: createIndex }));

export const inputArb: fc.Arbitrary<ModelInput> = fc
  .record({
    services: servicesArb,
    claims: fc.array(claimArb, { maxLength: 6 }),
    weights: fc.array(entryArb('paas-router/weights/', weightsValueArb), { maxLength: 2 }),
    maintenance: fc.array(entryArb('paas-router/maintenance/', maintenanceValueArb), { maxLength: 2 }),
  })
  .map(({ services, claims, weights, maintenance }) => ({ services, claims, settings: MODEL_SETTINGS, weights, maintenance }));

// ---- hostile additions (metamorphic properties) -----------------------------------------------

/** One piece of bad input aimed at one app. `target` picks an existing service (by index) or names a new one. */
export type Hostile =
  | { kind: 'instance'; target: number | string; instance: ServiceInstance }
  | { kind: 'tag'; target: number; instance: number; tag: string }
  | { kind: 'claim'; variant: 'bad-key' | 'bad-value' | 'unrouted' | 'reserved'; service: string; key: string; value: string; createIndex: number }
  | { kind: 'service'; name: string; instances: ServiceInstance[] };

/** Hosts under the cluster domain: reserved for default hosts, no claim may take one. */
export const RESERVED_VALUES = [`web.${CLUSTER}`, CLUSTER, `x.api.${CLUSTER}`, `WEB.${CLUSTER.toUpperCase()}`, `a.b.c.${CLUSTER}`];

export const hostileArb: fc.Arbitrary<Hostile> = fc.oneof(
  fc.record({
    kind: fc.constant('instance' as const),
    target: fc.oneof(fc.nat(), serviceNameArb),
    instance: badInstanceArb,
  }),
  fc.record({ kind: fc.constant('tag' as const), target: fc.nat(), instance: fc.nat(), tag: invalidTagArb }),
  fc.record({
    kind: fc.constant('claim' as const),
    variant: fc.constantFrom('bad-key' as const, 'bad-value' as const, 'unrouted' as const, 'reserved' as const),
    service: serviceNameArb,
    key: fc.constantFrom(...BAD_KEYS),
    value: fc.oneof(claimValueArb, badClaimValueArb),
    createIndex: fc.oneof(fc.constant(0), indexArb),
  }),
  fc.record({
    kind: fc.constant('service' as const),
    name: hostileNameArb,
    instances: fc.array(instanceArb, { minLength: 1, maxLength: 3 }),
  }),
);

// ---- Consul event sequences -------------------------------------------------------------------

export type ConsulEvent =
  | { type: 'register'; service: string; instance: ServiceInstance }
  | { type: 'deregister'; service: number; instance: number }
  | { type: 'check'; service: number; instance: number; passing: boolean }
  | { type: 'retag'; service: number; instance: number; tags: string[] }
  | { type: 'kv-put'; key: string | number; value: string }
  | { type: 'kv-delete'; key: number };

export const eventArb: fc.Arbitrary<ConsulEvent> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ type: fc.constant('register' as const), service: serviceNameArb, instance: instanceArb }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('deregister' as const), service: fc.nat(), instance: fc.nat() }) },
  {
    weight: 3,
    arbitrary: fc.record({ type: fc.constant('check' as const), service: fc.nat(), instance: fc.nat(), passing: fc.boolean() }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('retag' as const),
      service: fc.nat(),
      instance: fc.nat(),
      tags: fc.array(tagArb, { maxLength: 4 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ type: fc.constant('kv-put' as const), key: fc.oneof(claimKeyArb, fc.nat()), value: claimValueArb }),
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('kv-delete' as const), key: fc.nat() }) },
);

// ---- render settings --------------------------------------------------------------------------

export interface RenderOptions {
  bindAddress: string;
  /** Which model hosts a certificate covers: none (no TLS), all, or every other one. */
  tls: 'none' | 'all' | 'some';
  stats: { user: string; password: string } | null;
  maxOldWorkers: number | null;
  /** haproxy.* edge keys (docs/edge.md); absent: their defaults. */
  edge?: {
    acceptProxy: boolean;
    trustedProxies: string[];
    statsBindAddress: string;
    sslMinVer: string;
    maxconn: number | null;
  };
}

const credentialArb = (noColon: boolean) =>
  fc
    .oneof(
      fc.constantFrom('admin', `p4ss w#rd'"\\$x:y`, 'ünïcødé', 'tab\there', 'nl\nx', '\u{1f600}', '%[src]', '${HOME}'),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 16 }),
      fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 16 }),
    )
    .map((s) => s.replace(/\0/g, '0'))
    .map((s) => (noColon ? s.replace(/:/g, '-') : s))
    .filter((s) => s !== '');

export const renderOptionsArb: fc.Arbitrary<RenderOptions> = fc.record({
  bindAddress: fc.constantFrom('*', '*', '127.0.0.1', '::', '[::1]'),
  tls: fc.constantFrom('none' as const, 'all' as const, 'some' as const),
  stats: fc.option(fc.record({ user: credentialArb(true), password: credentialArb(false) }), { nil: null }),
  maxOldWorkers: fc.option(fc.integer({ min: 1, max: 5 }), { nil: null }),
  edge: fc.record({
    acceptProxy: fc.boolean(),
    trustedProxies: fc.oneof(
      fc.constant<string[]>([]),
      fc.subarray(['10.0.0.0/8', '192.168.1.7', 'fd00::/8', '0.0.0.0/0', '::/0', '2001:db8::1/128']),
      fc.integer({ min: 1, max: 90 }).map((n) => Array.from({ length: n }, (_, i) => `10.${i}.0.0/16`)),
    ),
    statsBindAddress: fc.constantFrom('127.0.0.1', '::1', '*', '10.0.0.2', '[::1]'),
    sslMinVer: fc.constantFrom('TLSv1.2', 'TLSv1.3'),
    maxconn: fc.option(fc.integer({ min: 1, max: 100000 }), { nil: null }),
  }),
});

// ---- one fuzz case ----------------------------------------------------------------------------

export interface FuzzCase {
  input: ModelInput;
  /** Seed of the order shuffle (determinism property). */
  shuffleSeed: number;
  hostile: Hostile;
  events: ConsulEvent[];
  render: RenderOptions;
}

export const caseArb: fc.Arbitrary<FuzzCase> = fc.record({
  input: inputArb,
  shuffleSeed: fc.integer(),
  hostile: hostileArb,
  events: fc.array(eventArb, { maxLength: 8 }),
  render: renderOptionsArb,
});
