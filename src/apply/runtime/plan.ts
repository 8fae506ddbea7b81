// Pure: compares the running files with the candidate and decides whether HAProxy's runtime API
// can make the change (servers joining, leaving, failing or recovering; hosts added, moved or
// removed) or a reload is needed (proxies, settings or templates changed).
import { isCertificateFile } from '../../render/certificates.js';
import type { RenderedFiles } from '../../render/types.js';
import type { DesiredState } from './execute.js';
import { HOSTS_MAP, MAIN_CONFIG, parseFiles, parseMap, type ServerLine } from './parse.js';
import type { SpareClaim } from './spares.js';

export { HOSTS_MAP, MAIN_CONFIG };
/** Maps beside hosts.map that the runtime API edits in place (`map` names the file in ops). */
export const EXTRA_RUNTIME_MAPS = ['maintenance.map'];

/** The extra runtime maps of a set of files, parsed: file name → entries. */
export function extraMapsOf(files: RenderedFiles): Map<string, Map<string, string>> {
  return new Map(EXTRA_RUNTIME_MAPS.filter((name) => name in files).map((name) => [name, parseMap(files[name]!)]));
}

export type RuntimeOp =
  | { op: 'add-server'; backend: string; server: ServerLine }
  | { op: 'del-server'; backend: string; name: string }
  | { op: 'enable-server' | 'disable-server'; backend: string; name: string }
  | { op: 'map-add' | 'map-set'; key: string; value: string; map?: string }
  | { op: 'map-del'; key: string; map?: string }
  | { op: 'set-weight'; backend: string; name: string; weight: number };

/**
 * What a change needs: runtime commands, or a reload and why. The one plan type of both planners.
 * `desired`: what HAProxy must hold afterwards, for the backends and maps the ops touch (absent:
 * read from the candidate's files). `spares`: brand-new apps the ops put on spare backends.
 */
export type RuntimePlan = { kind: 'runtime'; ops: RuntimeOp[]; desired?: DesiredState; spares?: SpareClaim[] } | { kind: 'reload'; reason: string };

/** Keywords HAProxy 2.6 refuses on a dynamic server (`add server`). */
const NOT_DYNAMIC = new Set(['cookie']);
/** Hash-based algorithms: HAProxy 2.6 accepts dynamic servers only with dynamic load balancing. */
const STATIC_BALANCE = new Set(['static-rr', 'source', 'uri', 'url_param', 'hdr', 'rdp-cookie', 'hash']);

export function planRuntime(running: Readonly<RenderedFiles>, candidate: Readonly<RenderedFiles>): RuntimePlan {
  for (const name of new Set([...Object.keys(running), ...Object.keys(candidate)])) {
    // Certificates change through their own runtime commands (CertificateRuntime), after the apply.
    if (name !== MAIN_CONFIG && name !== HOSTS_MAP && !isCertificateFile(name) && !EXTRA_RUNTIME_MAPS.includes(name) && running[name] !== candidate[name]) {
      return { kind: 'reload', reason: `${name} changed` };
    }
  }
  const { config: before, hosts: mapBefore } = parseFiles(running);
  const { config: after, hosts: mapAfter } = parseFiles(candidate);
  if (before.skeleton !== after.skeleton) return { kind: 'reload', reason: 'proxies or settings changed' };

  const ops: RuntimeOp[] = [];
  for (const [backend, servers] of after.proxies) {
    const found = serverOps(backend, before.proxies.get(backend) ?? new Map<string, ServerLine>(), servers, after.balance.get(backend));
    if ('reason' in found) return { kind: 'reload', reason: found.reason };
    ops.push(...found.ops);
  }
  ops.push(...mapOps(mapBefore, mapAfter));
  const extraBefore = extraMapsOf(running);
  for (const [map, entries] of extraMapsOf(candidate)) ops.push(...mapOps(extraBefore.get(map) ?? new Map(), entries, map));
  return { kind: 'runtime', ops };
}

/** The runtime commands that turn one proxy's servers into another's, or why a reload is needed. */
export function serverOps(
  backend: string,
  old: Map<string, ServerLine>,
  servers: Map<string, ServerLine>,
  balance: string | undefined,
): { ops: RuntimeOp[] } | { reason: string } {
  const ops: RuntimeOp[] = [];
  for (const name of old.keys()) {
    if (!servers.has(name)) ops.push({ op: 'del-server', backend, name });
  }
  for (const [name, line] of servers) {
    const was = old.get(name);
    if (!was) {
      const blocker = line.args.find((a) => NOT_DYNAMIC.has(a));
      if (blocker) return { reason: `server ${backend}/${name} uses "${blocker}", which HAProxy 2.6 refuses on dynamic servers` };
      const algorithm = (balance ?? 'roundrobin').replace(/\(.*$/, '');
      if (STATIC_BALANCE.has(algorithm)) return { reason: `backend ${backend} balances with "${algorithm}", which HAProxy 2.6 cannot give dynamic servers` };
      ops.push({ op: 'add-server', backend, server: line });
    } else if (
      was.endpoint !== line.endpoint ||
      withoutWeight(was.args) !== withoutWeight(line.args) ||
      (weightOf(was.args) === undefined) !== (weightOf(line.args) === undefined)
    ) {
      return { reason: `server ${backend}/${name} changed parameters` };
    } else {
      // A group's weights (paas-router/weights/<group>) change with `set server weight`.
      const weight = weightOf(line.args);
      if (weight !== undefined && weight !== weightOf(was.args)) ops.push({ op: 'set-weight', backend, name, weight });
      if (was.disabled !== line.disabled) ops.push({ op: line.disabled ? 'disable-server' : 'enable-server', backend, name });
    }
  }
  return { ops };
}

/** `del`, `add` and `set map` commands that turn one map into another (hosts.map unless `map` names another). */
export function mapOps(before: Map<string, string>, after: Map<string, string>, map?: string): RuntimeOp[] {
  const ops: RuntimeOp[] = [];
  const which = map === undefined ? {} : { map };
  for (const key of before.keys()) if (!after.has(key)) ops.push({ op: 'map-del', key, ...which });
  for (const [key, value] of after) {
    const was = before.get(key);
    if (was === undefined) ops.push({ op: 'map-add', key, value, ...which });
    else if (was !== value) ops.push({ op: 'map-set', key, value, ...which });
  }
  return ops;
}

/** The `weight <n>` of a server line's keywords, if any. */
export function weightOf(args: string[]): number | undefined {
  const i = args.indexOf('weight');
  return i === -1 ? undefined : Number(args[i + 1]);
}

function withoutWeight(args: string[]): string {
  const i = args.indexOf('weight');
  return (i === -1 ? args : [...args.slice(0, i), ...args.slice(i + 2)]).join(' ');
}
