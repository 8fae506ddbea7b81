// Shared pieces of the dev Consul tests. This file holds no tests (tap lists it as skipped).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { startDevConsul, type DevConsul, type DevConsulOptions } from '../../dev/consul/server.js';
import { eventually } from '../helpers/net.js';

/** The documented Consul samples (test/fixtures/consul, from Consul's API docs). */
const FIXTURES = fileURLToPath(new URL('../fixtures/consul/', import.meta.url));

export const fixture = <T = unknown>(name: string): T => JSON.parse(readFileSync(FIXTURES + name, 'utf8')) as T;

/** A dev Consul closed when the test ends. */
export async function withConsul(t: Test, opts: DevConsulOptions = {}): Promise<DevConsul> {
  const consul = await startDevConsul(opts);
  t.teardown(() => consul.close());
  return consul;
}

/** Resolves when `n` requests are held by the dev Consul (blocked or slowed), instead of sleeping. */
export const held = (c: DevConsul, n: number): Promise<boolean> => eventually(`${n} held request(s)`, () => c.waiting === n);

/** Tracks whether a promise has settled, for "still blocked" checks. */
export function tracked<T>(promise: Promise<T>): { promise: Promise<T>; done: () => boolean } {
  let settled = false;
  void promise.finally(() => (settled = true)).catch(() => undefined);
  return { promise, done: () => settled };
}
