// The catalog watch's read of /v1/catalog/services, in one process: its index moves on every
// registration anywhere, so at 10 000 services the whole list is parsed again on each, on the
// event loop that serves the change. Times (p50 of --rounds, default 30) JSON.parse, then
// parseCatalogServices alone (as at start) and against the last answer (as the watch does), and
// the watch's comparison, for answers with --tags tags per service (default 0, 1, 3) in the random
// order Consul sends them.
//   node dist/bench/catalog-parse.js [--services 10000] [--tags 0,1,3] [--rounds 30]
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { parseCatalogServices, sameCatalog } from '../src/sources/consul/parse.js';

const { values } = parseArgs({
  options: { services: { type: 'string', default: '10000' }, tags: { type: 'string', default: '0,1,3' }, rounds: { type: 'string', default: '30' } },
});
const services = Number(values.services);
const rounds = Number(values.rounds);

/** One answer as Consul sends it: each service's tags in a random order. */
function answer(tags: number): string {
  const body: Record<string, string[]> = {};
  for (let i = 0; i < services; i++) {
    const own = ['marathon', 'production', `router.domain=www${i}.example.org`, 'router.hsts=on', 'router.balance=leastconn'].slice(0, tags);
    body[`app${i}-bench`] = own.sort(() => Math.random() - 0.5);
  }
  return JSON.stringify(body);
}

const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(1);
process.stdout.write(`${services} services; ${cpus().length} × ${cpus()[0]?.model}, node ${process.version}, load ${loadavg()[0]!.toFixed(1)}\n`);
for (const tags of values.tags.split(',').map(Number)) {
  const answers = Array.from({ length: 5 }, () => Buffer.from(answer(tags)));
  const t = { json: [] as number[], fresh: [] as number[], freshSame: [] as number[], against: [] as number[], againstSame: [] as number[] };
  let last = parseCatalogServices(JSON.parse(answers[0]!.toString('utf8')));
  for (let r = 0; r < rounds; r++) {
    const bytes = answers[r % answers.length]!;
    let at = performance.now();
    const body = JSON.parse(bytes.toString('utf8')) as unknown;
    t.json.push(performance.now() - at);
    at = performance.now();
    const fresh = parseCatalogServices(body);
    t.fresh.push(performance.now() - at);
    at = performance.now();
    if (!sameCatalog(last, fresh)) throw new Error('the answers differ');
    t.freshSame.push(performance.now() - at);
    at = performance.now();
    const against = parseCatalogServices(body, last);
    t.against.push(performance.now() - at);
    at = performance.now();
    if (!sameCatalog(last, against)) throw new Error('the answers differ');
    t.againstSame.push(performance.now() - at);
    last = against;
  }
  process.stdout.write(
    `${tags} tags (${(answers[0]!.length / 1024).toFixed(0)} KB): JSON.parse ${p50(t.json)} ms; parsed alone ${p50(t.fresh)} + compared ${p50(t.freshSame)} ms; ` +
      `against the last answer ${p50(t.against)} + compared ${p50(t.againstSame)} ms (p50 of ${rounds})\n`,
  );
}
