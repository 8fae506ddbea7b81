// listen_hosts: the Host names the status listener answers (DNS rebinding), from the config key
// to the rule, table-tested.
import t from 'tap';
import { validateConfig } from '../../src/config/load.js';
import { allowedHosts, hostAllowed } from '../../src/server/hosts.js';

t.test('listen_hosts in the config', async (t) => {
  t.same(validateConfig({}, 'test', {}).listenHosts, [], 'default: empty (the listener derives its own names)');
  t.same(validateConfig({ listen_hosts: ['Status.Example.org', '[::1]:9107', '10.0.0.5'] }, 'test', {}).listenHosts, [
    'status.example.org',
    '[::1]:9107',
    '10.0.0.5',
  ]);
  t.throws(() => validateConfig({ listen_hosts: ['http://evil/'] }, 'test', {}), { code: 'CONFIG_INVALID', message: /listen_hosts\.0: must be a host name/ });
  t.throws(() => validateConfig({ listen_hosts: 'localhost' }, 'test', {}), { code: 'CONFIG_INVALID', message: /listen_hosts/ });
});

t.test('which Host headers are answered', async (t) => {
  t.same(allowedHosts('127.0.0.1', []), ['127.0.0.1', 'localhost', '[::1]']);
  t.same(allowedHosts('::1', []), ['[::1]', 'localhost', '127.0.0.1']);
  t.same(allowedHosts('10.0.0.5', ['master-1']), ['master-1'], 'configured names replace the defaults');
  const defaults = allowedHosts('127.0.0.1', []);
  const cases: [string | undefined, boolean][] = [
    ['127.0.0.1:9107', true],
    ['127.0.0.1', true],
    ['LOCALHOST:9107', true],
    ['[::1]:9107', true],
    ['127.0.0.1:9108', false],
    ['evil.example', false],
    ['evil.example:9107', false],
    ['127.0.0.1.evil.example', false],
    ['localhost@evil', false],
    ['', false],
    [undefined, false],
  ];
  for (const [host, ok] of cases) t.equal(hostAllowed(host, defaults, 9107), ok, `Host ${JSON.stringify(host)}`);
  t.equal(hostAllowed('proxy.example.org:8443', ['proxy.example.org:8443'], 9107), true, 'an entry with a port matches exactly');
  t.equal(hostAllowed('proxy.example.org', ['proxy.example.org:8443'], 9107), false);
});
