import t from 'tap';
import { planRuntime } from '../../src/apply/runtime/plan.js';
import { parseConfig } from '../../src/apply/runtime/parse.js';
import { parseServersState, parseShowMap, splitEndpoint } from '../../src/apply/runtime/execute.js';

function cfg(servers: Record<string, string[]>, extra = ''): string {
  const lines = ['global', '    master-worker', 'defaults', '    mode http', 'frontend http_in', '    bind *:80', ''];
  for (const [backend, list] of Object.entries(servers)) {
    lines.push(`# ${backend}: some hosts`, `backend ${backend}`, '    balance roundrobin', ...list.map((s) => `    server ${s}`), '');
  }
  return lines.join('\n') + extra;
}
const files = (servers: Record<string, string[]>, map: string, extra = '') => ({ 'haproxy.cfg': cfg(servers, extra), 'hosts.map': map });

const base = files({ app_a: ['10.0.0.1:80 10.0.0.1:80', '10.0.0.2:80 10.0.0.2:80 disabled'] }, 'a.example.org app_a\n');

const cases: { name: string; next: Record<string, string>; expect: unknown }[] = [
  { name: 'identical files: an empty runtime plan', next: base, expect: { kind: 'runtime', ops: [] } },
  {
    name: 'a new instance',
    next: files({ app_a: ['10.0.0.1:80 10.0.0.1:80', '10.0.0.2:80 10.0.0.2:80 disabled', '10.0.0.3:80 10.0.0.3:80 check maxconn 5'] }, 'a.example.org app_a\n'),
    expect: {
      kind: 'runtime',
      ops: [{ op: 'add-server', backend: 'app_a', server: { name: '10.0.0.3:80', endpoint: '10.0.0.3:80', args: ['check', 'maxconn', '5'], disabled: false } }],
    },
  },
  {
    name: 'an instance removed',
    next: files({ app_a: ['10.0.0.2:80 10.0.0.2:80 disabled'] }, 'a.example.org app_a\n'),
    expect: { kind: 'runtime', ops: [{ op: 'del-server', backend: 'app_a', name: '10.0.0.1:80' }] },
  },
  {
    name: 'an instance failing and another recovering',
    next: files({ app_a: ['10.0.0.1:80 10.0.0.1:80 disabled', '10.0.0.2:80 10.0.0.2:80'] }, 'a.example.org app_a\n'),
    expect: {
      kind: 'runtime',
      ops: [
        { op: 'disable-server', backend: 'app_a', name: '10.0.0.1:80' },
        { op: 'enable-server', backend: 'app_a', name: '10.0.0.2:80' },
      ],
    },
  },
  {
    name: 'hosts added, moved and removed (comment lines naming hosts do not matter)',
    next: { 'haproxy.cfg': base['haproxy.cfg'].replace('# app_a: some hosts', '# app_a: other hosts'), 'hosts.map': '# generated\nb.example.org app_a\n' },
    expect: {
      kind: 'runtime',
      ops: [
        { op: 'map-del', key: 'a.example.org' },
        { op: 'map-add', key: 'b.example.org', value: 'app_a' },
      ],
    },
  },
  {
    name: 'a host moved to another backend',
    next: files({ app_a: ['10.0.0.1:80 10.0.0.1:80', '10.0.0.2:80 10.0.0.2:80 disabled'] }, 'a.example.org app_b\n'),
    expect: { kind: 'runtime', ops: [{ op: 'map-set', key: 'a.example.org', value: 'app_b' }] },
  },
  {
    name: 'a new backend needs a reload',
    next: files({ app_a: ['10.0.0.1:80 10.0.0.1:80', '10.0.0.2:80 10.0.0.2:80 disabled'], app_b: [] }, 'a.example.org app_a\n'),
    expect: { kind: 'reload', reason: 'proxies or settings changed' },
  },
  {
    name: 'a changed setting needs a reload',
    next: { 'haproxy.cfg': base['haproxy.cfg'].replace('balance roundrobin', 'balance leastconn'), 'hosts.map': base['hosts.map'] },
    expect: { kind: 'reload', reason: 'proxies or settings changed' },
  },
  {
    name: 'changed server parameters need a reload',
    next: files({ app_a: ['10.0.0.1:80 10.0.0.1:80 maxconn 9', '10.0.0.2:80 10.0.0.2:80 disabled'] }, 'a.example.org app_a\n'),
    expect: { kind: 'reload', reason: 'server app_a/10.0.0.1:80 changed parameters' },
  },
  {
    name: 'a sticky server cannot be added at runtime',
    next: files({ app_a: ['10.0.0.1:80 10.0.0.1:80', '10.0.0.2:80 10.0.0.2:80 disabled', '10.0.0.3:80 10.0.0.3:80 cookie abc'] }, 'a.example.org app_a\n'),
    expect: { kind: 'reload', reason: /uses "cookie"/ },
  },
  {
    name: 'a hash-balanced backend cannot take dynamic servers',
    next: {
      'haproxy.cfg': cfg({ app_a: ['10.0.0.1:80 10.0.0.1:80', '10.0.0.2:80 10.0.0.2:80 disabled', '10.0.0.3:80 10.0.0.3:80'] }).replace(
        'balance roundrobin',
        'balance source',
      ),
      'hosts.map': base['hosts.map'],
    },
    expect: { kind: 'reload', reason: /proxies or settings changed/ },
  },
  {
    name: 'group weights changed: set server weight, a weight 0 drains',
    next: files({ app_a: ['10.0.0.1:80 10.0.0.1:80 weight 0', '10.0.0.2:80 10.0.0.2:80 weight 256 disabled'] }, 'a.example.org app_a\n'),
    expect: {
      kind: 'runtime',
      ops: [
        { op: 'set-weight', backend: 'app_a', name: '10.0.0.1:80', weight: 0 },
        { op: 'set-weight', backend: 'app_a', name: '10.0.0.2:80', weight: 256 },
      ],
    },
  },
  {
    name: 'maintenance on, changed and off: the maintenance map at runtime',
    next: { ...base, 'maintenance.map': '# generated\napp_a QmFjayBzb29u\napp_b eA==\n' },
    expect: {
      kind: 'runtime',
      ops: [
        { op: 'map-del', key: 'app_c', map: 'maintenance.map' },
        { op: 'map-add', key: 'app_a', value: 'QmFjayBzb29u', map: 'maintenance.map' },
        { op: 'map-set', key: 'app_b', value: 'eA==', map: 'maintenance.map' },
      ],
    },
  },
  {
    name: 'another file changing needs a reload',
    next: { ...base, 'errors.http': 'x' },
    expect: { kind: 'reload', reason: 'errors.http changed' },
  },
  {
    name: 'certificate files are left to the certificate runtime sync (validated by the applier first)',
    next: { ...base, 'crt-list': 'x', 'certs/www.example.org.pem': 'pem' },
    expect: { kind: 'runtime', ops: [] },
  },
];

// Weighted base for the weight case, a base with two apps in maintenance for the maintenance case.
const weighted = files({ app_a: ['10.0.0.1:80 10.0.0.1:80 weight 10', '10.0.0.2:80 10.0.0.2:80 weight 10 disabled'] }, 'a.example.org app_a\n');
const inMaintenance = { ...base, 'maintenance.map': 'app_b QQ==\napp_c QQ==\n' };
const baseOf = (c: { name: string }) => (c.name.startsWith('group weights') ? weighted : c.name.startsWith('maintenance') ? inMaintenance : base);

for (const c of cases) {
  t.test(c.name, async (t) => {
    t.match(planRuntime(baseOf(c), c.next), c.expect);
    if ((c.expect as { kind: string }).kind === 'runtime') t.same(planRuntime(baseOf(c), c.next), c.expect);
  });
}

t.test('a server gaining or losing its weight keyword needs a reload', async (t) => {
  t.match(planRuntime(base, files({ app_a: ['10.0.0.1:80 10.0.0.1:80 weight 5', '10.0.0.2:80 10.0.0.2:80 disabled'] }, 'a.example.org app_a\n')), {
    kind: 'reload',
    reason: /changed parameters/,
  });
  t.match(
    planRuntime(
      weighted,
      files({ app_a: ['10.0.0.1:80 10.0.0.1:80 weight 10 maxconn 3', '10.0.0.2:80 10.0.0.2:80 weight 10 disabled'] }, 'a.example.org app_a\n'),
    ),
    { kind: 'reload', reason: /changed parameters/ },
  );
});

t.test('a new server in an existing hash-balanced backend is planned as a reload', async (t) => {
  const source = (n: number) => ({
    'haproxy.cfg': cfg({ app_a: Array.from({ length: n }, (_, i) => `10.0.0.${i + 1}:80 10.0.0.${i + 1}:80`) }).replace('balance roundrobin', 'balance source'),
    'hosts.map': '',
  });
  t.match(planRuntime(source(1), source(2)), { kind: 'reload', reason: /balances with "source"/ });
  t.match(planRuntime(source(2), source(1)), { kind: 'runtime' }, 'removal works with any algorithm');
});

t.test('parseConfig keeps server lines out of the skeleton', async (t) => {
  const p = parseConfig(base['haproxy.cfg']);
  t.notMatch(p.skeleton, /server 10/);
  t.notMatch(p.skeleton, /^#/m);
  t.same([...p.proxies.get('app_a')!.keys()], ['10.0.0.1:80', '10.0.0.2:80']);
  t.equal(p.balance.get('app_a'), 'roundrobin');
  t.equal(p.proxies.get('app_a')!.get('10.0.0.2:80')!.disabled, true);
});

t.test('runtime answers are parsed', async (t) => {
  const state = [
    '1',
    '# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port',
    '2 b_rr 1 a 127.0.0.1 0 5 1 1 0 1 0 0 8 0 0 0 - 1 - 0 0 - - 0',
    '2 b_rr 3 c 127.0.0.1 2 0 1 1 0 1 0 0 0 0 0 0 - 3003 - 0 0 - - 0',
  ].join('\n');
  t.same(
    [...parseServersState(state)],
    [
      ['a', { address: '127.0.0.1', port: 1, maint: true, weight: 1 }],
      ['c', { address: '127.0.0.1', port: 3003, maint: false, weight: 1 }],
    ],
  );
  t.same(
    [...parseShowMap('0x55b4bd5e9d70 a.example.org b_rr\n0x55b4bd5e9d71 b.example.org app_x\n')],
    [
      ['a.example.org', 'b_rr'],
      ['b.example.org', 'app_x'],
    ],
  );
  t.same(splitEndpoint('ipv6@fd00::13:31030'), { address: 'fd00::13', port: 31030 });
  t.same(splitEndpoint('10.0.0.1:80'), { address: '10.0.0.1', port: 80 });
});
