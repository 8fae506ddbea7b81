// Shared by the property tests (tap skips helpers.ts as a test file).
import type { Test } from 'tap';
import type { ModelInput } from '../../src/model/types.js';
import type { ServiceInstance } from '../../src/sources/types.js';
import { MODEL_SETTINGS } from './fixtures.js';

/** fast-check's report (seed, counterexample, shrunk path) becomes the tap failure message. */
export function holds(t: Test, name: string, assert: () => unknown): void | Promise<void> {
  const ok = () => void t.pass(name);
  const fail = (err: unknown) => void t.fail(`${name}\n${(err as Error).message}`);
  try {
    const result = assert();
    if (result instanceof Promise) return result.then(ok, fail);
    ok();
  } catch (err) {
    fail(err);
  }
}

/** A usable instance, with `over` replacing any field. */
export const inst = (over: Partial<ServiceInstance> = {}): ServiceInstance => ({
  id: 'mesos-consul:agent1:x:1',
  node: 'agent1',
  address: '10.0.0.1',
  port: 31000,
  tags: [],
  passing: true,
  checks: [],
  ...over,
});

/** A model input with the property tests' settings. */
export const input = (services: ModelInput['services'], claims: ModelInput['claims'] = []): ModelInput => ({
  services,
  claims,
  settings: MODEL_SETTINGS,
});
