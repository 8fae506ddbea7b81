// Pre-flight for new tcp listeners. `haproxy -c` does not bind, so a tcp app whose router.port
// another process on this host already holds passes validation and fails only at the reload; and
// HAProxy 2.6 retries such a bind for about 2 s with the running worker's listeners paused, so every
// app stops accepting connections on each attempt. The runner probes new ports first instead.
import { connect, createServer } from 'node:net';
import { finishRejections, reject } from '../model/rejections.js';
import type { RoutingModel } from '../model/types.js';

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

/**
 * Leaves out, with a conflict rejection, every tcp app whose router.port another process holds on
 * this host. Reloading onto such a port fails after `haproxy -c` passed, and HAProxy 2.6 retries
 * that bind for ~2 s with the running worker's listeners paused (no app accepts connections): one
 * app's port must neither block the other changes nor cost an outage per attempt. Ports of the
 * running configuration belong to HAProxy and are not probed. `leftOut`: probe again later.
 */
export async function withoutBusyPorts(model: RoutingModel, runningConfig: string, bindAddress: string): Promise<{ model: RoutingModel; leftOut: boolean }> {
  const running = boundPorts(runningConfig);
  const busy: RoutingModel['apps'] = [];
  for (const app of model.apps) {
    if (app.mode !== 'tcp' || app.port === undefined || running.has(app.port)) continue;
    if (await portInUse(bindAddress, app.port)) busy.push(app);
  }
  if (busy.length === 0) return { model, leftOut: false };
  const left = new Set(busy.map((a) => a.name));
  const rejections = busy.map((a) =>
    reject('conflict', a.name, `router.port=${a.port}`, `router.port: port ${a.port} is in use by another process on this host; the app is routed once the port is free`),
  );
  return { model: { ...model, apps: model.apps.filter((a) => !left.has(a.name)), rejections: finishRejections([...model.rejections, ...rejections]) }, leftOut: true };
}
