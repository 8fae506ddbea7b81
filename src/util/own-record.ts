// Records keyed by names a tenant or an operator chooses (service names, Vault keys): `record[name] =
// value` with the name `__proto__` replaces the record's prototype instead of adding an entry, so the
// entry vanishes and every other lookup in the record can hit what the new prototype holds.

/** Adds `key` as an own, enumerable entry of `record`, whatever the key. */
export function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, { value, writable: true, enumerable: true, configurable: true });
}
