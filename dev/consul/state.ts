// The server's data and its one raft index.
// Consul numbers every write with the next raft log index, whether or not it changes any
// data (a CAS that fails, or re-registering the same service, still takes an index). Reads
// report the index of the tables they touched, so a read's index only moves when its data
// moved. Watchers are told about every data change and re-evaluate their own query.
import { Catalog } from './catalog.js';
import { KVStore } from './kv.js';
import { SessionStore } from './sessions.js';
import type { Subscribe } from './blocking.js';

type Listener = (abandoned: boolean) => void;

export class DevConsulState {
  readonly catalog: Catalog;
  readonly kv = new KVStore();
  readonly sessions: SessionStore;
  private raftIndex = 0;
  private readonly listeners = new Set<Listener>();

  constructor(
    readonly datacenter: string,
    node = 'dev-consul',
  ) {
    this.catalog = new Catalog(datacenter);
    this.sessions = new SessionStore(node, (id) => this.invalidateSession(id));
  }

  /** Destroy or TTL expiry: the session's keys are released (or deleted) and lock-delayed. */
  invalidateSession(id: string): boolean {
    return this.write((index) => {
      const session = this.sessions.remove(id);
      if (!session) return { result: false, changed: false };
      const keys = this.kv.keysHeldBy(id);
      for (const key of keys) {
        if (session.Behavior === 'delete') this.kv.delete(key, { recurse: false }, index);
        else this.kv.unlock(key, index);
      }
      this.sessions.delayLocks(keys, session);
      return { result: true, changed: true };
    });
  }

  get index(): number {
    return this.raftIndex;
  }

  /**
   * Applies one write at the next raft index. `apply` returns its answer and whether data
   * changed. If it throws (a validation error), no index is used, as Consul rejects those
   * before they reach the raft log.
   */
  write<T>(apply: (index: number) => { result: T; changed: boolean }): T {
    const index = this.raftIndex + 1;
    const { result, changed } = apply(index);
    this.raftIndex = index;
    if (changed) this.emit(false);
    return result;
  }

  /**
   * Simulates a snapshot restore: the raft index goes back to `to`, every stored index is
   * lowered to at most `to`, and every blocked query is woken (Consul closes the abandoned
   * state store's channel), so clients see an index lower than the one they hold.
   */
  resetIndex(to = 1): void {
    if (!Number.isSafeInteger(to) || to < 1) throw new RangeError(`resetIndex: index must be an integer >= 1, got ${to}`);
    this.raftIndex = to;
    this.catalog.lowerIndexes(to);
    this.kv.lowerIndexes(to);
    this.emit(true);
  }

  readonly subscribe: Subscribe = (listener) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private emit(abandoned: boolean): void {
    for (const listener of [...this.listeners]) listener(abandoned);
  }
}

/** Consul never reports index 0 (clients would spin); it reports 1 instead. */
export const reportedIndex = (index: number): number => Math.max(1, index);
