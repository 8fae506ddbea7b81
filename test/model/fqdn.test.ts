import t from 'tap';
import { isUnderDomain, parseDomainValue, validateFqdn } from '../../src/model/fqdn.js';
import { escapeText, safeText } from '../../src/model/text.js';

const label63 = 'a'.repeat(63);
// 63+1+63+1+63+1+61 = 253 characters exactly.
const host253 = `${label63}.${label63}.${label63}.${'b'.repeat(57)}.com`;

t.test('validateFqdn accepts and normalises', async (t) => {
  const cases: { name: string; raw: string; fqdn: string }[] = [
    { name: 'plain', raw: 'www.example.org', fqdn: 'www.example.org' },
    { name: 'uppercase is lowercased', raw: 'WWW.Example.ORG', fqdn: 'www.example.org' },
    { name: 'punycode', raw: 'xn--bcher-kva.de', fqdn: 'xn--bcher-kva.de' },
    { name: 'punycode uppercase', raw: 'XN--BCHER-KVA.DE', fqdn: 'xn--bcher-kva.de' },
    { name: 'two labels', raw: 'example.org', fqdn: 'example.org' },
    { name: 'hyphen and digits inside', raw: 'my-app2.example-1.org', fqdn: 'my-app2.example-1.org' },
    { name: 'numeric non-top label', raw: '123.example.com', fqdn: '123.example.com' },
    { name: 'label of 63', raw: `${label63}.org`, fqdn: `${label63}.org` },
    { name: 'exactly 253 characters', raw: host253, fqdn: host253 },
    { name: 'single-char labels', raw: 'a.b.co', fqdn: 'a.b.co' },
  ];
  for (const c of cases) {
    t.strictSame(validateFqdn(c.raw), { ok: true, fqdn: c.fqdn }, c.name);
  }
  t.equal(host253.length, 253, 'fixture length');
});

t.test('validateFqdn rejects with a reason', async (t) => {
  const cases: { name: string; raw: string; reason: RegExp }[] = [
    { name: 'empty', raw: '', reason: /^empty host name$/ },
    { name: 'space', raw: 'www example.org', reason: /whitespace/ },
    { name: 'leading space', raw: ' www.example.org', reason: /whitespace/ },
    { name: 'newline', raw: 'www.example.org\nevil.org', reason: /whitespace/ },
    { name: 'tab', raw: 'www.\texample.org', reason: /whitespace/ },
    { name: 'no-break space', raw: 'www.example.org\u00a0', reason: /whitespace/ },
    { name: 'NUL', raw: 'www.exa\u0000mple.org', reason: /control characters/ },
    { name: 'ESC', raw: 'www.\u001b[31mexample.org', reason: /control characters/ },
    { name: 'DEL', raw: 'www.example.org\u007f', reason: /control characters/ },
    { name: 'C1 control', raw: 'www.example.org\u0085', reason: /control characters/ },
    { name: 'unicode', raw: 'bücher.de', reason: /non-ASCII.*punycode \(xn--\) form "xn--bcher-kva\.de"/ },
    { name: 'unicode uppercase', raw: 'BÜCHER.de', reason: /punycode.*"xn--bcher-kva\.de"/ },
    { name: 'zero-width space', raw: 'www\u200b.example.org', reason: /non-ASCII.*xn--/ },
    { name: 'emoji', raw: '😀.example.org', reason: /non-ASCII.*xn--/ },
    { name: 'semicolon', raw: 'example.org;rm', reason: /";" is not allowed/ },
    { name: 'port', raw: 'example.org:8080', reason: /port is not allowed/ },
    { name: 'path', raw: 'example.org/blog', reason: /path is not allowed/ },
    { name: 'url', raw: 'https://example.org', reason: /URL/ },
    { name: 'trailing dot', raw: 'example.org.', reason: /^trailing dot/ },
    { name: 'only a dot', raw: '.', reason: /trailing dot/ },
    { name: 'longer than 253', raw: `a${host253}`, reason: /254 characters long \(max 253\)/ },
    { name: 'label longer than 63', raw: `${label63}a.org`, reason: /64 characters long \(max 63\)/ },
    { name: 'empty label', raw: 'a..b.org', reason: /empty label/ },
    { name: 'leading dot', raw: '.example.org', reason: /empty label/ },
    { name: 'leading hyphen', raw: '-www.example.org', reason: /label "-www" starts or ends with a hyphen/ },
    { name: 'trailing hyphen', raw: 'www-.example.org', reason: /hyphen/ },
    { name: 'hyphen tld', raw: 'example.-org', reason: /hyphen/ },
    { name: 'wildcard', raw: '*.example.org', reason: /wildcards/ },
    { name: 'inner wildcard', raw: 'www.*.org', reason: /wildcards/ },
    { name: 'double quotes', raw: '"example.org"', reason: /quotes/ },
    { name: 'single quote', raw: "exa'mple.org", reason: /quotes/ },
    { name: 'backtick', raw: 'exa`mple.org', reason: /quotes/ },
    { name: 'hash', raw: 'example.org#x', reason: /"#" is not allowed/ },
    { name: 'backslash', raw: 'example\\.org', reason: /backslash/ },
    { name: 'underscore', raw: 'my_app.example.org', reason: /character "_" is not allowed/ },
    { name: 'other punctuation', raw: 'ex!ample.org', reason: /character "!" is not allowed/ },
    { name: 'at sign', raw: 'user@example.org', reason: /character "@" is not allowed/ },
    { name: 'single label', raw: 'localhost', reason: /at least two labels/ },
    { name: 'IPv4 address', raw: '10.0.0.1', reason: /all-numeric/ },
    { name: 'numeric tld', raw: 'example.123', reason: /top-level label "123" is all-numeric/ },
  ];
  for (const c of cases) {
    const r = validateFqdn(c.raw);
    t.equal(r.ok, false, `${c.name}: rejected`);
    if (!r.ok) t.match(r.reason, c.reason, `${c.name}: reason`);
  }
});

t.test('parseDomainValue splits on any run of commas and whitespace', async (t) => {
  const cases: { name: string; value: string; fqdns: string[]; rejected: { fqdn: string; reason: RegExp }[] }[] = [
    { name: 'empty', value: '', fqdns: [], rejected: [] },
    { name: 'only separators', value: ' ,\n\t, ', fqdns: [], rejected: [] },
    { name: 'one', value: 'www.example.org', fqdns: ['www.example.org'], rejected: [] },
    { name: 'commas', value: 'a.example.org,b.example.org', fqdns: ['a.example.org', 'b.example.org'], rejected: [] },
    {
      name: 'mixed separators and padding',
      value: '  b.example.org ,, a.example.org\n\nc.example.org\t\r\n',
      fqdns: ['b.example.org', 'a.example.org', 'c.example.org'],
      rejected: [],
    },
    {
      name: 'duplicates after normalisation are dropped silently',
      value: 'a.example.org A.EXAMPLE.ORG a.example.org',
      fqdns: ['a.example.org'],
      rejected: [],
    },
    {
      name: 'bad names do not affect good ones',
      value: 'good.example.org bad_name.example.org, other.example.org:80 good2.example.org',
      fqdns: ['good.example.org', 'good2.example.org'],
      rejected: [
        { fqdn: 'bad_name.example.org', reason: /"_"/ },
        { fqdn: 'other.example.org:80', reason: /port/ },
      ],
    },
    {
      name: 'a space inside a name splits it into two bad names',
      value: 'www .example.org',
      fqdns: [],
      rejected: [
        { fqdn: 'www', reason: /two labels/ },
        { fqdn: '.example.org', reason: /empty label/ },
      ],
    },
    {
      name: 'control characters are not separators',
      value: 'a.example.org\u0000b.example.org c.example.org',
      fqdns: ['c.example.org'],
      rejected: [{ fqdn: 'a.example.org\u0000b.example.org', reason: /control/ }],
    },
    {
      name: 'the same bad name is reported once',
      value: 'x.org. x.org.',
      fqdns: [],
      rejected: [{ fqdn: 'x.org.', reason: /trailing dot/ }],
    },
  ];
  for (const c of cases) {
    const r = parseDomainValue(c.value);
    t.strictSame(r.fqdns, c.fqdns, `${c.name}: fqdns`);
    t.strictSame(
      r.rejected.map((x) => x.fqdn),
      c.rejected.map((x) => x.fqdn),
      `${c.name}: rejected names`,
    );
    c.rejected.forEach((x, i) => t.match(r.rejected[i]?.reason, x.reason, `${c.name}: reason ${i}`));
  }
});

t.test('isUnderDomain', async (t) => {
  t.equal(isUnderDomain('production.mozilla.community', 'production.mozilla.community'), true);
  t.equal(isUnderDomain('a.production.mozilla.community', 'production.mozilla.community'), true);
  t.equal(isUnderDomain('a.b.production.mozilla.community', 'production.mozilla.community'), true);
  t.equal(isUnderDomain('xproduction.mozilla.community', 'production.mozilla.community'), false);
  t.equal(isUnderDomain('production.mozilla.community.evil.org', 'production.mozilla.community'), false);
  t.equal(isUnderDomain('mozilla.community', 'production.mozilla.community'), false);
});

t.test('subjects are escaped to one line and capped', async (t) => {
  const cases: { raw: string; escaped: string }[] = [
    { raw: 'plain', escaped: 'plain' },
    { raw: 'a\nb', escaped: 'a\\nb' },
    { raw: 'a\r\tb', escaped: 'a\\r\\tb' },
    { raw: 'a\u0000b', escaped: 'a\\u0000b' },
    { raw: '\u001b[2J', escaped: '\\u001b[2J' },
    { raw: 'a\\b', escaped: 'a\\\\b' },
    { raw: 'x\u2028y', escaped: 'x\\u2028y' },
    { raw: 'rtl\u202eevil', escaped: 'rtl\\u202eevil' },
    { raw: 'bücher.de', escaped: 'bücher.de' },
    { raw: 'say "hi"', escaped: 'say "hi"' },
  ];
  // Names use the expected text: a raw U+2028 in a test name would break the TAP stream itself.
  for (const c of cases) t.equal(escapeText(c.raw), c.escaped, `escapes to ${c.escaped}`);
  t.equal(safeText('x'.repeat(600)), `${'x'.repeat(512)}...(88 more chars)`);
  t.equal(safeText('y'.repeat(512)), 'y'.repeat(512));
});
