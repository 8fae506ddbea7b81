// README's first command, as a user runs it: `paas-router dev --once` starts the dev cluster on the
// real Consul agent, the daemon reading it over HTTPS (HTTP/2, a watch per service), prints every
// route and one request through HAProxy per host, and exits 0.
import t from 'tap';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { consulAgentSkip } from '../helpers/consul-agent.js';
import { freePort } from '../helpers/net.js';

const BIN = join(PACKAGE_ROOT, 'bin', 'paas-router.js');

t.test('paas-router dev --once: the agent over HTTPS, every host answered', { skip: consulAgentSkip() }, async (t) => {
  const httpPort = await freePort();
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [BIN, 'dev', '--once', '--http-port', String(httpPort)],
      { env: { ...process.env, PAAS_ROUTER_CONFIG: '' } },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
  t.equal(code, 0, `exit 0 (stderr: ${stderr.slice(0, 2000)})`);
  t.match(
    stdout,
    /Consul: +https:\/\/127\.0\.0\.1:\d+ +real Consul agent .*HTTPS, HTTP\/2: \d+ streams, a blocking watch per service/,
    'the daemon reads the agent over HTTP/2',
  );
  const requests = stdout.split('\n').filter((line) => line.includes(`curl -H 'Host: `) && !line.includes('nothing-here'));
  t.ok(requests.length >= 4, `a request per host (${requests.length})`);
  for (const line of requests) t.match(line, /→ {2}200 /, line.trim());
  t.notMatch(stderr, /"level":(4|5)0/, 'no warning or error logged');
});
