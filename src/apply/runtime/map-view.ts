// What HAProxy must hold in a map, read without copying it: at 10 000 apps hosts.map has 20 000
// entries, and a runtime change reads back only the keys it changed (execute.ts). Building the
// whole map twice per change, and once more for the apps on spares, cost more than the change
// (27 ms of a brand-new app's plan in the daemon at 10 000 apps).
import type { HostView } from '../../render/views.js';
import { indexOfSorted } from '../../util/sorted-search.js';

const byHost = (view: HostView) => view.host;

/** What the check after the commands reads of a map: a Map, or one of the views below. */
export interface MapContents {
  readonly size: number;
  get(key: string): string | undefined;
  [Symbol.iterator](): Iterator<[string, string]>;
}

/** hosts.map as the render's host views say it: they are sorted by host (code units), each once. */
export function hostsMapOf(hosts: readonly HostView[]): MapContents {
  return {
    size: hosts.length,
    get(key) {
      const i = indexOfSorted(hosts, key, byHost);
      return i < 0 ? undefined : hosts[i]!.backend;
    },
    *[Symbol.iterator]() {
      for (const { host, backend } of hosts) yield [host, backend];
    },
  };
}

/** `map` with every value renamed on the way out (an app's backend → the spare that serves it). */
export function renamedValues(map: MapContents, rename: (value: string) => string): MapContents {
  return {
    size: map.size,
    get(key) {
      const value = map.get(key);
      return value === undefined ? undefined : rename(value);
    },
    *[Symbol.iterator]() {
      for (const [key, value] of map) yield [key, rename(value)];
    },
  };
}
