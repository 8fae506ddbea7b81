import { createServer } from 'node:net';

/**
 * Where listening ports are picked: below Linux's ephemeral range (ip_local_port_range, 32768-60999
 * by default), which every outgoing connection takes its local port from. A port the kernel handed
 * out (listen on 0) can be taken by some client's connection before HAProxy binds it (seen in CI:
 * "cannot bind socket (Address already in use)"); one from this range cannot. 11000 and up leaves
 * haproxy.tcp_ports' default 10000-10999 to the tcp app tests.
 */
export const LISTEN_PORTS = { from: 11000, to: 32767 } as const;

/** A loopback TCP port that was free a moment ago, outside the ephemeral range. */
export function freePort(): Promise<number> {
  return freePortInRange(LISTEN_PORTS.from, LISTEN_PORTS.to);
}

/**
 * Ports this process handed out already: a port is free until its user binds it, so two calls in a
 * row could return the same one (seen in the suite: "the stats listener wants port 24008, which is
 * already used by the HTTP listener"). Never twice in one process.
 */
const handedOut = new Set<number>();

/**
 * A free loopback port within [from, to] (for tcp apps, whose `router.port` must be inside
 * `haproxy.tcp_ports`, default 10000-10999). Starts at a random offset so parallel tests rarely collide.
 */
export async function freePortInRange(from: number, to: number): Promise<number> {
  const size = to - from + 1;
  const start = Math.floor(Math.random() * size);
  for (let i = 0; i < size; i++) {
    const port = from + ((start + i) % size);
    if (handedOut.has(port)) continue;
    const server = createServer();
    const free = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (free) {
      await new Promise((resolve) => server.close(resolve));
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free loopback port in ${from}-${to}`);
}

/**
 * HAProxy's three listener ports for a dev cluster in a test or bench, each picked free. The dev
 * cluster's default layout derives HTTPS and stats from the HTTP port (+363, +324): a derived port
 * is reserved by no one and may fall in the ephemeral range (seen in CI: HTTPS on 32784 = 32421 +
 * 363, "cannot bind socket (Address already in use)").
 */
export async function freeListenerPorts(): Promise<{ httpPort: number; httpsPort: number; statsPort: number }> {
  return { httpPort: await freePort(), httpsPort: await freePort(), statsPort: await freePort() };
}
