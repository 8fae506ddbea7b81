// The files adopted at a daemon start against what HAProxy reports at runtime (issue 20): which
// spares hold which app, and any server or map entry that differs from the files (a daemon stopped
// between its runtime commands and its write), which only a reload can make one again.
import t from 'tap';
import { adoptRuntime } from '../../src/apply/runtime/adopt.js';
import type { RuntimeServer, RuntimeState } from '../../src/apply/runtime/execute.js';

const files = {
  'haproxy.cfg': [
    'frontend http',
    '  bind :80',
    'backend app_web',
    '  server 10.0.0.1:31000 10.0.0.1:31000 check',
    '  server 10.0.0.2:31000 10.0.0.2:31000 check disabled',
    'backend app_blog',
    '  server 10.0.0.3:31001 10.0.0.3:31001 check',
    'backend spare_1',
    'backend spare_2',
    '',
  ].join('\n'),
  'hosts.map': 'web.example.org app_web\nblog.example.org app_blog\n',
  'maintenance.map': 'app_web bWFpbnRlbmFuY2U=\n',
};

const server = (endpoint: string, maint = false): [string, RuntimeServer] => {
  const [address, port] = endpoint.split(':');
  return [endpoint, { address: address!, port: Number(port), maint, weight: 1 }];
};

/** What HAProxy holds after loading `files` (blog in its own backend), with `change` applied. */
function runtime(change: (r: RuntimeState) => void = () => {}): RuntimeState {
  const r: RuntimeState = {
    hosts: new Map([
      ['web.example.org', 'app_web'],
      ['blog.example.org', 'app_blog'],
    ]),
    maps: new Map([['maintenance.map', new Map([['app_web', 'bWFpbnRlbmFuY2U=']])]]),
    servers: new Map([
      ['app_web', new Map([server('10.0.0.1:31000'), server('10.0.0.2:31000', true)])],
      ['app_blog', new Map([server('10.0.0.3:31001')])],
    ]),
  };
  change(r);
  return r;
}

/** The same, blog served from spare_1 (a brand-new app the last daemon added at runtime). */
const onSpare = (r: RuntimeState) => {
  r.servers.set('spare_1', r.servers.get('app_blog')!);
  r.servers.delete('app_blog');
  r.hosts.set('blog.example.org', 'spare_1');
};

t.test('HAProxy runs the files: no drift; the apps on spares are found', async (t) => {
  t.same(adoptRuntime(files, runtime()), { claims: [] });
  t.same(adoptRuntime(files, runtime(onSpare)), { claims: [{ app: 'blog', backend: 'app_blog', spare: 'spare_1' }] });
  t.same(
    adoptRuntime(
      files,
      runtime((r) => r.servers.get('app_web')!.set(...server('10.0.0.9:31000', true))),
    ),
    { claims: [] },
    'a server still draining when the last daemon stopped (in maintenance) is no drift',
  );
});

t.test('what HAProxy runs differs from the files: the drift is named', async (t) => {
  const table: [string, (r: RuntimeState) => void, RegExp][] = [
    ['a server the files list is gone', (r) => r.servers.get('app_web')!.delete('10.0.0.1:31000'), /server app_web\/10\.0\.0\.1:31000 is missing/],
    [
      'a server added at runtime, not written',
      (r) => r.servers.get('app_web')!.set(...server('10.0.0.9:31000')),
      /server app_web\/10\.0\.0\.9:31000 is not in the config/,
    ],
    ['a server enabled that the files disable', (r) => r.servers.get('app_web')!.set(...server('10.0.0.2:31000')), /is enabled, the config says disabled/],
    ['a host removed at runtime', (r) => r.hosts.delete('web.example.org'), /hosts map differs from hosts.map at web\.example\.org/],
    ['a host moved at runtime', (r) => r.hosts.set('web.example.org', 'app_blog'), /hosts map differs from hosts.map at web\.example\.org/],
    ['a maintenance page lifted at runtime', (r) => r.maps.get('maintenance.map')!.clear(), /runtime map maintenance\.map differs from the file at app_web/],
    [
      'a backend HAProxy serves that the files removed',
      (r) => r.servers.set('app_gone', new Map([server('10.0.0.5:1')])),
      /backend app_gone serves in HAProxy and is not in the files/,
    ],
    [
      'a spare with servers and no host',
      (r) => r.servers.set('spare_2', new Map([server('10.0.0.5:1')])),
      /spare backend spare_2 has servers but no host points at it/,
    ],
  ];
  for (const [name, change, drift] of table) t.match(adoptRuntime(files, runtime(change)), { drift }, name);
  t.match(
    adoptRuntime(
      files,
      runtime((r) => {
        onSpare(r);
        r.servers.get('spare_1')!.delete('10.0.0.3:31001');
      }),
    ),
    { claims: [{ app: 'blog', spare: 'spare_1' }], drift: /server spare_1\/10\.0\.0\.3:31001 is missing/ },
    'an app on a spare is compared on its spare',
  );
});
