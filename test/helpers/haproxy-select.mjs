// Loaded first into every test process (package.json tap.node-arg). PAAS_ROUTER_TEST_HAPROXY=<path of a
// file named haproxy> puts its directory first on PATH, so every `haproxy` a test, the dev cluster or
// a daemon it starts runs (`haproxy -c`, the master-worker process, `haproxy -v`) is that one, and the
// master's re-exec of its own argv[0] on reload finds it again. Unset: the system's HAProxy.
import { accessSync, constants } from 'node:fs';
import { basename, delimiter, dirname, resolve } from 'node:path';

const selected = process.env.PAAS_ROUTER_TEST_HAPROXY;
if (selected) {
  const bin = resolve(selected);
  if (basename(bin) !== 'haproxy')
    throw new Error(`PAAS_ROUTER_TEST_HAPROXY=${selected}: the file must be named haproxy (the master re-executes itself by that name)`);
  accessSync(bin, constants.X_OK);
  const dir = dirname(bin);
  const path = (process.env.PATH ?? '').split(delimiter);
  if (path[0] !== dir) process.env.PATH = [dir, ...path.filter((p) => p !== dir)].join(delimiter);
  process.env.PAAS_ROUTER_TEST_HAPROXY = bin;
}
