// Time as a dependency: loops that wait take a Clock so tests drive time instead of sleeping.
export type TimerHandle = { readonly id: unknown };

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => ({ id: setTimeout(fn, ms) }),
  clearTimeout: (handle) => {
    if (handle) clearTimeout(handle.id as NodeJS.Timeout);
  },
};
