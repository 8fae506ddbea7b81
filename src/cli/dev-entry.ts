// `paas-router dev` loads the dev cluster (dev/cluster.ts) only when asked. It is not part of the
// published package nor of the production build (tsconfig.build.json compiles src/ only): the
// specifier is not a literal, so the compiler does not pull dev/ into the production program.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Writable } from 'node:stream';
import { RouterError } from '../errors.js';

export interface DevClusterEntry {
  runDevCluster(opts: { httpPort: number; once: boolean; out: Writable; traffic?: number }): Promise<void>;
}

/** Relative to this module in dist/src/cli/: dist/dev/cluster.js, built by `npm run build:all`. */
const DEV_CLUSTER = new URL('../../dev/cluster.js', import.meta.url);

export async function loadDevCluster(): Promise<DevClusterEntry> {
  if (!existsSync(fileURLToPath(DEV_CLUSTER))) {
    throw new RouterError(
      'DEV_CLUSTER_MISSING',
      `the dev cluster is not installed here (${fileURLToPath(DEV_CLUSTER)}): it runs from a checkout of paas-router, after \`npm ci\` or \`npm run build:all\`; the published package ships the daemon only`,
    );
  }
  const specifier: string = DEV_CLUSTER.href;
  return (await import(specifier)) as DevClusterEntry;
}
