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
    const old = before.proxies.get(backend) ?? new Map<string, ServerLine>();
    for (const [name, line] of old) {
      if (!servers.has(name)) ops.push({ op: 'del-server', backend, name });
    }
    for (const [name, line] of servers) {
      const was = old.get(name);
      if (!was) {
        const blocker = line.args.find((a) => NOT_DYNAMIC.has(a));
        if (blocker) return { kind: 'reload', reason: `server ${backend}/${name} uses "${blocker}", which HAProxy 2.6 refuses on dynamic servers` };
        const algorithm = (after.balance.get(backend) ?? 'roundrobin').replace(/\(.*$/, '');
        if (STATIC_BALANCE.has(algorithm)) return { kind: 'reload', reason: `backend ${backend} balances with "${algorithm}", which HAProxy 2.6 cannot give dynamic servers` };
        ops.push({ op: 'add-server', backend, server: line });
      } else if (was.endpoint !== line.endpoint || was.args.join(' ') !== line.args.join(' ')) {
        return { kind: 'reload', reason: `server ${backend}/${name} changed parameters` };
      } else if (was.disabled !== line.disabled) {
        ops.push({ op: line.disabled ? 'disable-server' : 'enable-server', backend, name });
      }
    }
  }

  for (const key of mapBefore.keys()) if (!mapAfter.has(key)) ops.push({ op: 'map-del', key });
  for (const [key, value] of mapAfter) {
    const was = mapBefore.get(key);
    if (was === undefined) ops.push({ op: 'map-add', key, value });
    else if (was !== value) ops.push({ op: 'map-set', key, value });
  }
  return { kind: 'runtime', ops };
}
