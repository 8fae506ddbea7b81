// Shared pieces of the dev Consul tests. This file holds no tests (tap lists it as skipped).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { startDevConsul, type DevConsul, type DevConsulOptions } from '../../dev/consul/server.js';

/** The documented Consul samples (test/fixtures/consul, from Consul's API docs). */
const FIXTURES = fileURLToPath(new URL('../fixtures/consul/', import.meta.url));

export const fixture = <T = unknown>(name: string): T => JSON.parse(readFileSync(FIXTURES + name, 'utf8')) as T;

/** A dev Consul closed when the test ends. */
export async function withConsul(t: Test, opts: DevConsulOptions = {}): Promise<DevConsul> {
  const consul = await startDevConsul(opts);
  t.teardown(() => consul.close());
  return consul;
}

export async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await run();
  return { value, ms: performance.now() - start };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
