// Pre-flight for new tcp listeners. `haproxy -c` does not bind, so a tcp app whose router.port
// another process on this host already holds passes validation and fails only at the reload; and
// HAProxy 2.6 retries such a bind for about 2 s with the running worker's listeners paused, so every
// app stops accepting connections on each attempt. The runner probes new ports first instead.
// A leaf module (node:net only): the unprivileged-user test runs it on its own.
import { connect, createServer } from 'node:net';

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
 * True when another socket already listens on `port`. Tries to bind it (EADDRINUSE = taken). The
 * daemon runs unprivileged, and below 1024 the kernel says EACCES before it looks at the port: then
 * a connection attempt tells (something accepts = taken). Anything else is false: HAProxy has the
 * last word, as it had before.
 */
export async function portInUse(bindAddress: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  const host = probeHost(bindAddress);
  const bound = await new Promise<string | undefined>((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'ERROR'));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
  if (bound !== 'EACCES') return bound === 'EADDRINUSE';
  return new Promise((resolve) => {
    const socket = connect({ port, host: host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host });
    const done = (taken: boolean) => {
      socket.destroy();
      resolve(taken);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
