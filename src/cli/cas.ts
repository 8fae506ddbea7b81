// Check-and-set writes of the K/V commands (`domains`, `weights`, `maintenance`): each attempt reads
// the key, redoes the whole check and writes with `?cas=<ModifyIndex>`; on a miss (someone else
// wrote meanwhile) it tries again a few times, then gives up without writing: exit 1.
import { RouterError } from '../errors.js';
import { backoffDelay } from '../util/backoff.js';

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
