// Pure: the files adopted at a daemon start against what HAProxy reports at runtime. The files
// name each app's own backend while HAProxy may serve brand-new apps from spares (the files never
// say so); and a daemon stopped between its runtime commands and its write, or between its write
// and its reload, leaves HAProxy serving servers or hosts the files do not list.
import type { RenderedFiles } from '../../render/types.js';
import { mapDiffers, serversDiffer, type RuntimeState } from './execute.js';
import { parseFiles } from './parse.js';
import { extraMapsOf } from './plan.js';
import { desiredOnSpares, spareNames, sparesFromRuntime, type SpareClaim } from './spares.js';

export interface AdoptedRuntime {
  /** Which spares hold which app. */
  claims: SpareClaim[];
  /** How HAProxy's runtime state differs from the files, if it does: only a reload makes them one again. */
  drift?: string;
}

export function adoptRuntime(files: Readonly<RenderedFiles>, runtime: RuntimeState): AdoptedRuntime {
  const { config, hosts } = parseFiles(files);
  const spares = spareNames(config.proxies.keys());
  const found = sparesFromRuntime(hosts, { hosts: runtime.hosts, servers: new Map(spares.map((s) => [s, runtime.servers.get(s)?.size ?? 0])) });
  if ('reason' in found) return { claims: [], drift: found.reason };
  const { claims } = found;
  const names = new Map(claims.map((c) => [c.backend, c.spare]));
  const taken = new Set(names.values());
  // A spare that holds an app is that app's backend at runtime: its own (empty) lines give way.
  const servers = new Map([...config.proxies].filter(([backend]) => !taken.has(backend)));
  const desired = desiredOnSpares({ servers, hosts, maps: extraMapsOf(files) }, names);
  for (const [backend, wanted] of desired.servers) {
    // Servers being drained when the last daemon stopped stay in maintenance until a reload.
    const wrong = serversDiffer(backend, wanted, runtime.servers.get(backend) ?? new Map(), () => true);
    if (wrong) return { claims, drift: wrong };
  }
  for (const [backend, running] of runtime.servers) {
    if (!desired.servers.has(backend) && [...running.values()].some((s) => !s.maint))
      return { claims, drift: `backend ${backend} serves in HAProxy and is not in the files` };
  }
  const wrongHost = mapDiffers('the runtime hosts map differs from hosts.map', desired.hosts, runtime.hosts);
  if (wrongHost) return { claims, drift: wrongHost };
  for (const [file, entries] of desired.maps ?? []) {
    const wrong = mapDiffers(`the runtime map ${file} differs from the file`, entries, runtime.maps.get(file) ?? new Map());
    if (wrong) return { claims, drift: wrong };
  }
  return { claims };
}
