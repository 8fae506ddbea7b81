// Writes the ownership records the model asks for (plan.ts) to Consul K/V, one pass at a time.
// A pass asked for while one runs is run once after it with the newest owners: the records only
// ever move towards what the latest build says. A failed or lost check-and-set is left for the next
// pass (the next build or tick reads the records again), so nothing here retries in a loop.
import pLimit from 'p-limit';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { OwnedName } from '../model/types.js';
import type { ConsulClient } from '../sources/consul/client.js';
import { MAX_TXN_OPS } from '../sources/consul/writes.js';
import { planClaimWrites, type ClaimWrite } from './plan.js';

export interface ClaimRecorderOptions {
  client: Pick<ConsulClient, 'kvSetCas' | 'kvDeleteCas' | 'kvTransaction'>;
  graceMs: number;
  log: Logger;
  now?: () => number;
  /** Writes in flight at once (each is one small K/V request). */
  concurrency?: number;
}

export interface ClaimPass {
  written: number;
  /** Check-and-set misses: someone (another router, an operator) wrote the key first. */
  lost: number;
  failed: number;
}

/**
 * How long a write made is taken as not yet read back: the same write planned again within it
 * (same key, same check-and-set index) comes from a build older than the write, and is not sent.
 */
export const READ_BACK_MS = 60_000;

export class ClaimRecorder {
  private latest: readonly OwnedName[] | undefined;
  /** Writes made by this recorder, by key: the check-and-set index they were made against, and when. */
  private readonly made = new Map<string, { cas: number; at: number }>();
  private running: Promise<void> | undefined;
  private again = false;
  private readonly limit: ReturnType<typeof pLimit>;
  readonly totals: ClaimPass = { written: 0, lost: 0, failed: 0 };

  constructor(private readonly opts: ClaimRecorderOptions) {
    this.limit = pLimit(opts.concurrency ?? 4);
  }

  /** Brings the records in step with `owners` (the latest build's); resolves when that pass is done. */
  reconcile(owners: readonly OwnedName[]): Promise<void> {
    this.latest = owners;
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.loop().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Runs the last owners again (releases fall due with time, not with a change). */
  tick(): Promise<void> {
    return this.latest ? this.reconcile(this.latest) : Promise.resolve();
  }

  /** Resolves once no pass runs (tests). */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      const now = (this.opts.now ?? Date.now)();
      for (const [key, made] of this.made) if (now - made.at >= READ_BACK_MS) this.made.delete(key);
      // A build that has not read back the last pass's writes asks for them again: at a first
      // start of 10 000 names, each such build sent 10 000 writes that all lost, one by one.
      const writes = planClaimWrites(this.latest ?? [], now, this.opts.graceMs).filter((w) => this.made.get(w.key)?.cas !== w.cas);
      if (writes.length > 0) await this.pass(writes, now);
    } while (this.again);
  }

  private async pass(writes: ClaimWrite[], now: number): Promise<void> {
    const pass: ClaimPass = { written: 0, lost: 0, failed: 0 };
    const errors: string[] = [];
    const one = async (w: ClaimWrite) => {
      try {
        const ok = w.op === 'put' ? await this.opts.client.kvSetCas(w.key, JSON.stringify(w.value), w.cas) : await this.opts.client.kvDeleteCas(w.key, w.cas);
        if (ok) {
          pass.written++;
          this.made.set(w.key, { cas: w.cas, at: now });
        } else pass.lost++;
      } catch (err) {
        pass.failed++;
        if (errors.length < 3) errors.push(`${w.key}: ${errorMessage(err)}`);
      }
    };
    // Transactions of up to 64 writes: a first start that records 10 000 names is ~160 requests
    // and Raft entries, not 10 000. One lost check-and-set rolls its transaction back: then its
    // writes go one by one, and each wins or loses on its own.
    const batches: ClaimWrite[][] = [];
    for (let i = 0; i < writes.length; i += MAX_TXN_OPS) batches.push(writes.slice(i, i + MAX_TXN_OPS));
    await Promise.all(
      batches.map((batch) =>
        this.limit(async () => {
          if (batch.length > 1) {
            try {
              const ops = batch.map((w) => ({ key: w.key, cas: w.cas, ...(w.op === 'put' ? { value: JSON.stringify(w.value) } : {}) }));
              if (await this.opts.client.kvTransaction(ops)) {
                pass.written += batch.length;
                for (const w of batch) this.made.set(w.key, { cas: w.cas, at: now });
                return;
              }
            } catch (err) {
              if (errors.length < 3) errors.push(`transaction: ${errorMessage(err)}`);
            }
          }
          for (const w of batch) await one(w);
        }),
      ),
    );
    this.totals.written += pass.written;
    this.totals.lost += pass.lost;
    this.totals.failed += pass.failed;
    // One line per pass, whatever its size: a migration of 10 000 names is one line.
    const why = countBy(writes.map((w) => w.why));
    const first = writes.slice(0, 3).map((w) => `${w.why} ${w.key}`);
    if (pass.failed > 0)
      this.opts.log.warn({ ...pass, why, errors }, `ownership records: ${pass.failed} of ${writes.length} writes failed; tried again at the next build`);
    else this.opts.log.info({ ...pass, why, first }, `ownership records: ${pass.written} written, ${pass.lost} already written by another router`);
  }
}

function countBy(list: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of list) out[x] = (out[x] ?? 0) + 1;
  return out;
}
