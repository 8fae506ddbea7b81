// Runs autocannon against HAProxy until SIGTERM, then prints its result as JSON on stdout.
// A separate process, so the load generator does not share an event loop with the harness.
import autocannon from 'autocannon';

const [url, host, connections] = process.argv.slice(2);
let done = false;
const instance = autocannon({ url: url!, connections: Number(connections ?? 8), duration: 3600, headers: { host: host! } }, (err, result) => {
  done = true;
  if (err) {
    process.stderr.write(`load worker: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(
    JSON.stringify({ requests: result.requests.total, non2xx: result.non2xx, errors: result.errors, timeouts: result.timeouts, resets: result.resets }),
  );
});
process.on('SIGTERM', () => {
  if (!done) instance.stop();
});
