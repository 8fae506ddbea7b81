// The key/value store (Consul docs: api-docs/kv; state store: kvs.go).
//
// Index choices, following Consul's state store:
// - a single key reports its own ModifyIndex; a missing key reports the KV table index;
// - a prefix (?recurse, ?keys) reports the highest ModifyIndex under it, raised to the
//   highest tombstone (deletion index) under it, so deleting a key still moves the prefix
//   forward and wakes its watchers. An empty prefix means "the whole store" and reports
//   the table index. A prefix that never held anything reports the table index too.
// Consul reaps tombstones after a while, which is one documented way an index can go
// backwards; this store keeps them (until resetIndex lowers them), so it never does that
// on its own.
// - writing the same value and flags again keeps ModifyIndex (Consul skips equal entries).

export interface KVEntry {
  CreateIndex: number;
  ModifyIndex: number;
  LockIndex: number;
  Key: string;
  Flags: number;
  /** Base64; null when the value is empty. */
  Value: string | null;
  /** The session holding the key's lock (absent when unlocked). */
  Session?: string;
}

interface Stored {
  CreateIndex: number;
  ModifyIndex: number;
  LockIndex: number;
  Flags: number;
  value: Buffer | null;
  session?: string;
}

/** `?acquire=<session>` or `?release=<session>` on a PUT. */
export type LockOp = { acquire: string } | { release: string };

/** Outcome of a write: the JSON answer (true/false) and whether data changed. */
export interface WriteOutcome {
  result: boolean;
  changed: boolean;
}

export class KVStore {
  private readonly entries = new Map<string, Stored>();
  private readonly tombstones = new Map<string, number>();
  private tableIndex = 0;

  get(key: string): { index: number; entry?: KVEntry; raw?: Buffer } {
    const stored = this.entries.get(key);
    if (!stored) return { index: this.tableIndex };
    return { index: stored.ModifyIndex, entry: toEntry(key, stored), raw: stored.value ?? Buffer.alloc(0) };
  }

  list(prefix: string): { index: number; entries: KVEntry[] } {
    const keys = this.keysUnder(prefix);
    const entries = keys.map((k) => toEntry(k, this.entries.get(k) as Stored));
    return { index: this.prefixIndex(prefix, entries), entries };
  }

  /** ?keys: key names under the prefix, cut after the first separator past the prefix. */
  keys(prefix: string, separator: string): { index: number; keys: string[] } {
    const full = this.keysUnder(prefix);
    const out = new Set<string>();
    for (const key of full) {
      const cut = separator ? key.indexOf(separator, prefix.length) : -1;
      out.add(cut >= 0 ? key.slice(0, cut + separator.length) : key);
    }
    const entries = full.map((k) => this.entries.get(k) as Stored);
    return { index: this.prefixIndex(prefix, entries), keys: [...out] };
  }

  /** PUT. `cas` 0 = only if absent; N = only if ModifyIndex is N. */
  put(key: string, value: Buffer, flags: number, cas: number | undefined, index: number, lock?: LockOp): WriteOutcome {
    const existing = this.entries.get(key);
    if (cas !== undefined) {
      if (cas === 0 ? existing !== undefined : existing?.ModifyIndex !== cas) return { result: false, changed: false };
    }
    // A plain write keeps the lock; acquire takes a free key (or one its session holds), release frees it.
    let session = existing?.session;
    let lockIndex = existing?.LockIndex ?? 0;
    if (lock && 'acquire' in lock) {
      if (session !== undefined && session !== lock.acquire) return { result: false, changed: false };
      if (session !== lock.acquire) lockIndex += 1;
      session = lock.acquire;
    } else if (lock) {
      if (session !== lock.release) return { result: false, changed: false };
      session = undefined;
    }
    const stored: Stored = {
      CreateIndex: existing?.CreateIndex ?? index,
      ModifyIndex: index,
      LockIndex: lockIndex,
      Flags: flags,
      value: value.length > 0 ? Buffer.from(value) : null,
      ...(session !== undefined ? { session } : {}),
    };
    if (existing && existing.Flags === stored.Flags && sameBytes(existing.value, stored.value) && existing.session === stored.session) {
      return { result: true, changed: false };
    }
    this.entries.set(key, stored);
    this.tableIndex = index;
    return { result: true, changed: true };
  }

  /** DELETE: one key, a whole prefix (?recurse) or a key if unchanged (?cas). */
  delete(key: string, opts: { recurse: boolean; cas?: number }, index: number): WriteOutcome {
    if (opts.recurse) {
      const doomed = this.keysUnder(key);
      doomed.forEach((k) => this.remove(k, index));
      return { result: true, changed: doomed.length > 0 };
    }
    const existing = this.entries.get(key);
    // Consul's kvsDeleteCASTxn answers true when the key is already gone.
    if (opts.cas !== undefined && existing && existing.ModifyIndex !== opts.cas) return { result: false, changed: false };
    if (existing) this.remove(key, index);
    return { result: true, changed: existing !== undefined };
  }

  /** Keys whose lock `session` holds. */
  keysHeldBy(session: string): string[] {
    return [...this.entries].filter(([, s]) => s.session === session).map(([k]) => k);
  }

  /** An invalidated session's key with Behavior release: unlocked, value kept. */
  unlock(key: string, index: number): void {
    const stored = this.entries.get(key);
    if (!stored?.session) return;
    delete stored.session;
    stored.ModifyIndex = index;
    this.tableIndex = index;
  }

  /** Snapshot restore: no stored index may stay above the restored raft index. */
  lowerIndexes(to: number): void {
    for (const s of this.entries.values()) {
      s.CreateIndex = Math.min(s.CreateIndex, to);
      s.ModifyIndex = Math.min(s.ModifyIndex, to);
      s.LockIndex = Math.min(s.LockIndex, to);
    }
    for (const [k, i] of this.tombstones) this.tombstones.set(k, Math.min(i, to));
    this.tableIndex = Math.min(this.tableIndex, to);
  }

  private remove(key: string, index: number): void {
    this.entries.delete(key);
    this.tombstones.set(key, index);
    this.tableIndex = index;
  }

  private keysUnder(prefix: string): string[] {
    return [...this.entries.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  private prefixIndex(prefix: string, entries: { ModifyIndex: number }[]): number {
    if (prefix === '') return this.tableIndex;
    let index = 0;
    for (const e of entries) index = Math.max(index, e.ModifyIndex);
    for (const [k, i] of this.tombstones) if (k.startsWith(prefix)) index = Math.max(index, i);
    return index !== 0 ? index : this.tableIndex;
  }
}

function toEntry(key: string, s: Stored): KVEntry {
  return {
    CreateIndex: s.CreateIndex,
    ModifyIndex: s.ModifyIndex,
    LockIndex: s.LockIndex,
    Key: key,
    Flags: s.Flags,
    Value: s.value ? s.value.toString('base64') : null,
    ...(s.session !== undefined ? { Session: s.session } : {}),
  };
}

function sameBytes(a: Buffer | null, b: Buffer | null): boolean {
  return a === null || b === null ? a === b : a.equals(b);
}
