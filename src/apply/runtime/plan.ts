// Pure: compares the running files with the candidate and decides whether HAProxy's runtime API
// can make the change (servers joining, leaving, failing or recovering; hosts added, moved or
// removed) or a reload is needed (proxies, settings or templates changed).
import { isCertificateFile } from '../../render/certificates.js';
import type { RenderedFiles } from '../../render/types.js';
import { HOSTS_MAP, MAIN_CONFIG, parseFiles, type ServerLine } from './parse.js';

export { HOSTS_MAP, MAIN_CONFIG };

export type RuntimeOp =
  | { op: 'add-server'; backend: string; server: ServerLine }
  | { op: 'del-server'; backend: string; name: string }
  | { op: 'enable-server' | 'disable-server'; backend: string; name: string }
  | { op: 'map-add' | 'map-set'; key: string; value: string }
  | { op: 'map-del'; key: string };

export type Plan = { kind: 'runtime'; ops: RuntimeOp[] } | { kind: 'reload'; reason: string };

/** Keywords HAProxy 2.6 refuses on a dynamic server (`add server`). */
const NOT_DYNAMIC = new Set(['cookie']);
/** Hash-based algorithms: HAProxy 2.6 accepts dynamic servers only with dynamic load balancing. */
const STATIC_BALANCE = new Set(['static-rr', 'source', 'uri', 'url_param', 'hdr', 'rdp-cookie', 'hash']);

export function planRuntime(running: RenderedFiles, candidate: RenderedFiles): Plan {
  for (const name of new Set([...Object.keys(running), ...Object.keys(candidate)])) {
    // Certificates change through their own runtime commands (CertificateRuntime), after the apply.
    if (name !== MAIN_CONFIG && name !== HOSTS_MAP && !isCertificateFile(name) && running[name] !== candidate[name]) {
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
    } else if (was.endpoint !== line.endpoint || was.args.join(' ') !== line.args.join(' ')) {
      return { reason: `server ${backend}/${name} changed parameters` };
    } else if (was.disabled !== line.disabled) {
      ops.push({ op: line.disabled ? 'disable-server' : 'enable-server', backend, name });
    }
  }
  return { ops };
}

/** `del`, `add` and `set map` commands that turn one hosts map into another. */
export function mapOps(before: Map<string, string>, after: Map<string, string>): RuntimeOp[] {
  const ops: RuntimeOp[] = [];
  for (const key of before.keys()) if (!after.has(key)) ops.push({ op: 'map-del', key });
  for (const [key, value] of after) {
    const was = before.get(key);
    if (was === undefined) ops.push({ op: 'map-add', key, value });
    else if (was !== value) ops.push({ op: 'map-set', key, value });
  }
  return ops;
}
