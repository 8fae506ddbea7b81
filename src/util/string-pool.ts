// Strings read out of big texts (a `show stat` answer, a Consul response), kept as their own
// copies and shared. V8 keeps a substring of 13 characters or more as a slice of its parent: a
// backend name sliced out of a 64 KB chunk of `show stat` keeps the whole chunk alive for as long
// as the name is kept (at 10 000 apps, 17 MB of old answers held by the traffic ring's names).
// The pool keeps one copy per distinct value, of the values asked for in the current and the last
// generation only: the caller starts a generation per read (a sample), so names gone are dropped.

export class StringPool {
  private current = new Map<string, string>();
  private previous = new Map<string, string>();

  /** `s`, as the pool's own copy (the same copy for every equal value). */
  get(s: string): string {
    let own = this.current.get(s);
    if (own !== undefined) return own;
    own = this.previous.get(s) ?? ownCopy(s);
    this.current.set(own, own);
    return own;
  }

  /** Starts a generation: values not asked for in this one or the last are dropped. */
  rotate(): void {
    this.previous = this.current;
    this.current = new Map();
  }

  /** Distinct values held (this generation and the last). */
  get size(): number {
    let n = this.current.size;
    for (const k of this.previous.keys()) if (!this.current.has(k)) n++;
    return n;
  }
}

/** A copy of `s` that shares no memory with the text it was cut from (JSON.parse makes a new string). */
export function ownCopy(s: string): string {
  return JSON.parse(JSON.stringify(s)) as string;
}
