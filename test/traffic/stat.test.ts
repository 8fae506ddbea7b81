// `show stat` parsing: a real HAProxy 2.6 answer (captured from the dev cluster after known
// requests), quoted fields, and answers that are not `show stat` at all.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseShowStat } from '../../src/traffic/stat.js';

const here = import.meta.dirname;
const real = readFileSync(join(here, 'fixtures', 'show-stat-2.6.csv'), 'utf8');

t.test('a real HAProxy 2.6 answer: backends and servers with their counters', async (t) => {
  const { backends, servers } = parseShowStat(real);
  t.same(
    backends.map((b) => b.backend),
    ['be_default', 'app_discourse-community', 'app_wordpress-community', 'app_irc-bouncer-community', 'stats'],
  );
  const wp = backends.find((b) => b.backend === 'app_wordpress-community')!;
  // 7 requests answered 200, 2 answered 503 (see the fixture's capture in the report).
  t.same(wp.responses, { '2xx': 7, '3xx': 0, '4xx': 0, '5xx': 2 });
  t.equal(wp.requests, 9);
  t.equal(wp.status, 'UP');
  const dc = backends.find((b) => b.backend === 'app_discourse-community')!;
  t.same(dc.responses, { '2xx': 0, '3xx': 1, '4xx': 1, '5xx': 0 });
  const irc = backends.find((b) => b.backend === 'app_irc-bouncer-community')!;
  t.equal(irc.requests, 0, 'tcp: sessions, none yet');
  const wpServers = servers.filter((s) => s.backend === 'app_wordpress-community');
  t.equal(wpServers.length, 2);
  t.equal(
    wpServers.reduce((n, s) => n + s.requests, 0),
    9,
    'server requests add up to the backend',
  );
  t.match(wpServers[0], { status: 'UP', check: { status: 'L7OK', code: 200, description: 'Layer7 check passed' } });
  t.match(
    servers.find((s) => s.backend === 'app_discourse-community'),
    { status: 'no check', check: { status: '', code: null } },
  );
});

t.test('columns are found by name, quoted fields with commas are one field', async (t) => {
  const csv =
    '# svname,pxname,type,status,scur,stot,req_tot,rtime,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,check_status,check_code,check_desc,\n' +
    'BACKEND,app_x,1,UP,3,40,41,12,30,1,2,8,,,,\n' +
    's1,app_x,2,DOWN,0,20,21,0,0,0,0,0,* L4CON,,"Connection refused, at step 1 ""tcp""",\n' +
    'FRONTEND,http_in,0,OPEN,0,0,0,0,0,0,0,0,,,,\n\n';
  const { backends, servers } = parseShowStat(csv);
  t.same(backends, [
    {
      backend: 'app_x',
      requests: 41,
      responses: { '2xx': 30, '3xx': 1, '4xx': 2, '5xx': 8 },
      responseMs: 12,
      sessions: 3,
      status: 'UP',
      cache: { lookups: 0, hits: 0 },
    },
  ]);
  t.same(servers, [
    {
      backend: 'app_x',
      server: 's1',
      requests: 21,
      status: 'DOWN',
      check: { status: 'L4CON', code: null, description: 'Connection refused, at step 1 "tcp"' },
    },
  ]);
});

t.test('an answer that is not show stat is an error naming what came back', async (t) => {
  t.throws(() => parseShowStat('Unknown command. Please enter one of the following commands only :\n'), { name: 'StatParseError' });
  t.throws(() => parseShowStat('Permission denied\n'), { message: /not the CSV of "show stat": "Permission denied"/ });
  t.throws(() => parseShowStat('# pxname,svname,type\n'), { message: /no scur column/ });
  t.same(parseShowStat(`${real.split('\n')[0]}\n\n`), { backends: [], servers: [] }, 'a header alone: nothing served');
  t.throws(() => parseShowStat(''), { message: /not the CSV of "show stat": ""/ }, 'nothing at all');
  // HAProxy ends every answer with an empty line; one cut short (a reload mid-dump) lacks it.
  t.throws(() => parseShowStat(real.slice(0, real.indexOf('\napp_irc-bouncer-community') + 1)), { message: /cut short/ });
  t.throws(() => parseShowStat(real.slice(0, -1)), { message: /cut short/ }, 'even cut right after a line');
});

t.test('garbage in a counter reads as 0, never as NaN', async (t) => {
  const csv =
    '# pxname,svname,type,status,scur,stot,req_tot,rtime,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,check_status,check_code,check_desc,\napp_x,BACKEND,1,UP,x,-5,,,,,,,,,,\n\n';
  const [b] = parseShowStat(csv).backends;
  t.same(b, {
    backend: 'app_x',
    requests: 0,
    responses: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
    responseMs: 0,
    sessions: 0,
    status: 'UP',
    cache: { lookups: 0, hits: 0 },
  });
});

t.test('router.cache: cache_lookups and cache_hits per backend', async (t) => {
  const csv =
    '# pxname,svname,type,status,scur,stot,req_tot,rtime,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,check_status,check_code,check_desc,cache_lookups,cache_hits,\n' +
    'app_x,BACKEND,1,UP,0,10,10,1,10,0,0,0,,,,7,5,\n' +
    'app_y,BACKEND,1,UP,0,3,3,1,3,0,0,0,,,,,,\n\n';
  const { backends } = parseShowStat(csv);
  t.same(
    backends.map((b) => [b.backend, b.cache]),
    [
      ['app_x', { lookups: 7, hits: 5 }],
      ['app_y', { lookups: 0, hits: 0 }],
    ],
  );
  const [wp] = parseShowStat(real).backends.filter((b) => b.backend === 'app_wordpress-community');
  t.same(wp!.cache, { lookups: 0, hits: 0 }, 'the real 2.6 answer has the columns (no cache there)');
});
