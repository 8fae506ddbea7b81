// Check-and-set writes of the K/V commands (`domains`, `weights`, `maintenance`): each attempt reads
// the key, redoes the whole check and writes with `?cas=<ModifyIndex>`; on a miss (someone else
// wrote meanwhile) it tries again a few times, then gives up without writing: exit 1.
import type { Config } from '../config/config.js';
import { consulClientFrom } from '../daemon.js';
import { RouterError } from '../errors.js';
import type { ConsulClient } from '../sources/consul/client.js';
import { readDomainsOnce } from '../sources/consul/read-once.js';
import type { DomainClaim } from '../sources/types.js';
import { backoffDelay } from '../util/backoff.js';
import { EXIT_USAGE } from './common.js';

/** Check-and-set kept failing: someone else keeps changing the key. Exit 1. */
export class CasConflictError extends RouterError {
  constructor(message: string) {
    super('CAS_CONFLICT', message);
  }
}

export interface KvIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  /** Attempts before giving up on CAS misses (default 5). */
  maxAttempts?: number;
}

/** Runs `attempt` until it returns an exit code (not 'retry'), at most `io.maxAttempts` times. */
export async function casLoop(io: KvIo, what: string, attempt: (n: number) => Promise<number | 'retry'>): Promise<number> {
  const max = io.maxAttempts ?? 5;
  for (let n = 1; n <= max; n++) {
    const result = await attempt(n);
    if (result !== 'retry') return result;
    if (n < max) {
      io.err.write(`paas-router: ${what}: the key changed meanwhile (check-and-set); reading it again (${n}/${max})\n`);
      await new Promise((r) => setTimeout(r, backoffDelay(n, { baseMs: 50, maxMs: 400 })));
    }
  }
  throw new CasConflictError(`${what}: the key kept changing during ${max} check-and-set attempts; nothing was written, try again`);
}

/** One check-and-set edit of a key: a Consul client for the whole loop, closed at the end. */
export async function editWithCas(config: Config, io: KvIo, what: string, attempt: (client: ConsulClient) => Promise<number | 'retry'>): Promise<number> {
  const client = consulClientFrom(config);
  try {
    return await casLoop(io, what, () => attempt(client));
  } finally {
    client.close();
  }
}

/** The current entry of `key` (under `prefix`), or undefined: its ModifyIndex is the CAS index. */
export async function readEntry(client: ConsulClient, prefix: string, key: string): Promise<DomainClaim | undefined> {
  return (await readDomainsOnce(client, prefix)).claims.find((c) => c.key === key);
}

/** Bad input: the message on stderr, exit 2. */
export function usage(io: KvIo, message: string): number {
  io.err.write(`paas-router: ${message}\n`);
  return EXIT_USAGE;
}
