// systemd's notification protocol (sd_notify(3)): newline-separated KEY=VALUE datagrams sent to
// the AF_UNIX socket named by $NOTIFY_SOCKET. Node has no unix datagram sockets, so:
//  - primary: the `unix-dgram` native addon sends from this very process, which is what the unit's
//    NotifyAccess=main accepts (systemd checks the sender's PID from SCM_CREDENTIALS);
//  - fallback (addon unavailable, or an abstract socket `@name` the addon cannot address): spawn
//    `systemd-notify`, whose messages come from a child PID and need NotifyAccess=all.
// Without $NOTIFY_SOCKET (not started by systemd) every call is a no-op.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { NotifyError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';

export type NotifyFields = Record<string, string | number>;

export interface Notifier {
  /** 'none' (no NOTIFY_SOCKET), 'socket' (native datagram) or 'systemd-notify' (fallback). */
  readonly mode: 'none' | 'socket' | 'systemd-notify';
  /** Sends one message; never throws (a failed notification is logged, not fatal). */
  notify(fields: NotifyFields): Promise<void>;
  ready(status?: string): Promise<void>;
  /** RELOADING=1 with MONOTONIC_USEC, as Type=notify-reload expects (harmless for Type=notify). */
  reloading(status?: string): Promise<void>;
  stopping(status?: string): Promise<void>;
  status(text: string): Promise<void>;
  watchdog(): Promise<void>;
  /**
   * The interval at which WATCHDOG=1 must be sent (half of $WATCHDOG_USEC), or undefined when
   * systemd asked for no watchdog (or asked another PID via $WATCHDOG_PID).
   */
  readonly watchdogIntervalMs: number | undefined;
}

/** Formats one notification: KEY=VALUE lines; values may not contain newlines. */
export function formatNotification(fields: NotifyFields): string {
  return Object.entries(fields)
    .map(([k, v]) => {
      if (!/^[A-Z_][A-Z0-9_]*$/.test(k)) throw new NotifyError(`sd_notify: bad field name ${JSON.stringify(k)}`);
      return `${k}=${String(v).replace(/[\r\n]+/g, ' ')}`;
    })
    .join('\n');
}

/** CLOCK_MONOTONIC in microseconds (process.hrtime uses the same clock on Linux). */
export function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n;
}

export function watchdogIntervalFrom(env: NodeJS.ProcessEnv, pid = process.pid): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isFinite(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return undefined;
  // sd_watchdog_enabled(3): "send keep-alive notifications ... at roughly half the interval".
  return Math.max(1, Math.floor(usec / 2_000));
}

type Send = (message: string) => Promise<void>;

interface UnixDgramSocket {
  on(event: 'error', listener: (err: Error) => void): void;
  send(buf: Buffer, offset: number, length: number, path: string, callback: (err?: Error) => void): void;
  close(): void;
}
interface UnixDgram {
  createSocket(type: 'unix_dgram'): UnixDgramSocket;
}

/** Loads the native addon, or explains why it cannot be used. */
export function loadUnixDgram(): { ok: true; lib: UnixDgram } | { ok: false; reason: string } {
  try {
    const require = createRequire(import.meta.url);
    return { ok: true, lib: require('unix-dgram') as UnixDgram };
  } catch (err) {
    return { ok: false, reason: errorMessage(err) };
  }
}

function socketSender(lib: UnixDgram, path: string): Send {
  // One socket per message, as libsystemd does: nothing stays open between notifications, so
  // the event loop is never kept alive and a restarted systemd is found again.
  return (message) =>
    new Promise((resolve, reject) => {
      let socket: UnixDgramSocket;
      try {
        socket = lib.createSocket('unix_dgram');
      } catch (err) {
        reject(err);
        return;
      }
      const buf = Buffer.from(message, 'utf8');
      let settled = false;
      const done = (err?: Error) => {
        if (settled) return;
        settled = true;
        try {
          socket.close();
        } catch {
          // already closed
        }
        if (err) reject(err);
        else resolve();
      };
      socket.on('error', done);
      socket.send(buf, 0, buf.length, path, (err) => done(err ?? undefined));
    });
}

function spawnSender(bin: string, env: NodeJS.ProcessEnv): Send {
  return (message) =>
    new Promise((resolve, reject) => {
      const child = spawn(bin, message.split('\n'), {
        env: { ...env },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      child.once('error', reject);
      child.once('exit', (code) => {
        if (code === 0) resolve();
        else reject(new NotifyError(`${bin} exited with ${code}: ${stderr.trim()}`));
      });
    });
}

export interface NotifierOptions {
  env?: NodeJS.ProcessEnv;
  log?: Logger;
  /** Force a transport (tests); default: native socket, else systemd-notify. */
  transport?: 'socket' | 'systemd-notify';
  systemdNotifyBin?: string;
}

export function createNotifier(opts: NotifierOptions = {}): Notifier {
  const env = opts.env ?? process.env;
  const log = opts.log;
  const target = env.NOTIFY_SOCKET;
  let mode: Notifier['mode'] = 'none';
  let send: Send = async () => undefined;
  if (target) {
    const abstract = target.startsWith('@');
    const native = opts.transport === 'systemd-notify' ? undefined : loadUnixDgram();
    if (native?.ok && !abstract) {
      mode = 'socket';
      send = socketSender(native.lib, target);
    } else {
      if (opts.transport === 'socket') {
        throw new NotifyError(`sd_notify: native socket transport unavailable: ${native && !native.ok ? native.reason : 'abstract socket'}`);
      }
      mode = 'systemd-notify';
      send = spawnSender(opts.systemdNotifyBin ?? 'systemd-notify', env);
      const why = abstract
        ? `NOTIFY_SOCKET ${target} is an abstract socket`
        : `the unix-dgram addon did not load (${native && !native.ok ? native.reason : 'not requested'})`;
      log?.warn({ notifySocket: target }, `sd_notify through systemd-notify because ${why}: the unit needs NotifyAccess=all`);
    }
  }
  const watchdogIntervalMs = target ? watchdogIntervalFrom(env) : undefined;
  const notify = async (fields: NotifyFields) => {
    if (mode === 'none') return;
    try {
      await send(formatNotification(fields));
    } catch (err) {
      log?.warn({ error: errorMessage(err), fields: Object.keys(fields) }, 'sd_notify failed');
    }
  };
  const withStatus = (fields: NotifyFields, status?: string): NotifyFields => (status === undefined ? fields : { ...fields, STATUS: status });
  return {
    mode,
    watchdogIntervalMs,
    notify,
    ready: (status) => notify(withStatus({ READY: 1 }, status)),
    reloading: (status) => notify(withStatus({ RELOADING: 1, MONOTONIC_USEC: monotonicUsec().toString() }, status)),
    stopping: (status) => notify(withStatus({ STOPPING: 1 }, status)),
    status: (text) => notify({ STATUS: text }),
    watchdog: () => notify({ WATCHDOG: 1 }),
  };
}
