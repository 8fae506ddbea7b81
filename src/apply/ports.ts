// Pre-flight for new tcp listeners. `haproxy -c` does not bind, so a tcp app whose router.port
// another process on this host already holds passes validation and fails only at the reload; and
// HAProxy 2.6 retries such a bind for about 2 s with the running worker's listeners paused, so every
// app stops accepting connections on each attempt. The runner probes new ports first instead.
import { createServer } from 'node:net';

/** Ports of the `bind` lines of a rendered haproxy.cfg: HAProxy's own listeners, never probed. */
export function boundPorts(config: string): Set<number> {
  const ports = new Set<number>();
  for (const m of config.matchAll(/^\s*bind\s+\S*:(\d+)(?:\s|$)/gm)) ports.add(Number(m[1]));
  return ports;
}

/** The address to probe for a `haproxy.bind_address` (`*` = every IPv4 address, as HAProxy binds it). */
export function probeHost(bindAddress: string): string {
  if (bindAddress === '*') return '0.0.0.0';
  return bindAddress.replace(/^\[(.*)\]$/, '$1');
}

/**
 * True when another socket already listens on `port` (EADDRINUSE). Any other outcome (free, or a
 * port this process may not bind, e.g. EACCES below 1024) is false: HAProxy has the last word.
 */
export function portInUse(bindAddress: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'EADDRINUSE'));
    server.listen({ port, host: probeHost(bindAddress), exclusive: true }, () => server.close(() => resolve(false)));
  });
}
