// Which Host headers the status listener answers. A hostile domain that resolves to 127.0.0.1
// (DNS rebinding) lets a browser on the node send requests to the loopback listener as that
// domain's own origin, and read the answers: the Host header is the only thing that tells them
// apart, so anything not configured is refused (421).

/** Loopback names always answered when `listen_hosts` is not set. */
export const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];

/** `listen_hosts` as configured, or the default: the `listen` address itself and the loopback names. */
export function allowedHosts(listenHost: string, configured: readonly string[]): string[] {
  if (configured.length > 0) return configured.map((h) => h.toLowerCase());
  const own = listenHost.includes(':') ? `[${listenHost}]` : listenHost;
  return [...new Set([own.toLowerCase(), ...LOOPBACK_HOSTS])];
}

/** `name[:port]` → [name, port]; the name keeps IPv6 brackets. */
function split(hostport: string): [string, string | undefined] {
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(hostport);
  return m ? [m[1]!, m[2]] : [hostport, undefined];
}

/**
 * Whether a request's Host header is one `allowed` names. An entry without a port matches the
 * name alone or with the listener's own port; an entry with a port matches exactly.
 */
export function hostAllowed(header: string | undefined, allowed: readonly string[], port: number): boolean {
  if (!header) return false;
  const [name, given] = split(header.trim().toLowerCase().replace(/\.$/, ''));
  for (const entry of allowed) {
    const [allowedName, allowedPort] = split(entry);
    if (allowedName !== name) continue;
    if (allowedPort !== undefined ? given === allowedPort : given === undefined || given === String(port)) return true;
  }
  return false;
}
