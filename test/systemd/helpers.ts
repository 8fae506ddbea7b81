// A real AF_UNIX datagram receiver standing in for systemd's notification socket (python3, which
// can bind one and read SCM_CREDENTIALS; Node cannot). No mock: the daemon's own sending code runs.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from '../../src/paths.js';

const SCRIPT = fileURLToPath(new URL('./notify-receiver.py', import.meta.url));

export interface Datagram {
  /** Sender PID from SCM_CREDENTIALS (what systemd checks for NotifyAccess=main). */
  pid: number | null;
  fields: Record<string, string>;
  raw: string;
}

export interface NotifyReceiver {
  messages: Datagram[];
  /** Resolves with the first message (from `since` on) matching `predicate`. */
  waitFor(what: string, predicate: (m: Datagram) => boolean, timeoutMs?: number, since?: number): Promise<Datagram>;
  close(): Promise<void>;
}

export function parseFields(raw: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of raw.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) fields[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return fields;
}

export async function startNotifyReceiver(address: string): Promise<NotifyReceiver> {
  const proc: ChildProcess = spawn('python3', [SCRIPT, address], { stdio: ['pipe', 'pipe', 'inherit'] });
  const messages: Datagram[] = [];
  const waiters = new Set<() => void>();
  let readyResolve!: () => void;
  const ready = new Promise<void>((r) => (readyResolve = r));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    const msg = JSON.parse(line) as { ready?: boolean; pid?: number | null; data?: string };
    if (msg.ready) return readyResolve();
    messages.push({ pid: msg.pid ?? null, raw: msg.data ?? '', fields: parseFields(msg.data ?? '') });
    for (const w of waiters) w();
  });
  await Promise.race([ready, exited.then(() => Promise.reject(new Error(`python3 notify receiver exited before binding ${address}`)))]);
  return {
    messages,
    waitFor(what, predicate, timeoutMs = 15_000, since = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.slice(since).find(predicate);
          if (found) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${what}; received: ${JSON.stringify(messages.map((m) => m.raw))}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async close() {
      proc.stdin!.end();
      const timer = setTimeout(() => proc.kill('SIGKILL'), 2_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** `paas-router run` as systemd starts it: under NOTIFY_SOCKET and WATCHDOG_USEC, its output kept for failure messages. */
export function spawnDaemon(
  configFile: string,
  notifySocket: string,
  watchdogUsec: number,
): { child: ChildProcess; pid: number; exited: Promise<number | null>; output(): string } {
  let output = '';
  const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin', 'paas-router.js'), 'run', '--config', configFile], {
    env: { ...process.env, PAAS_ROUTER_CONFIG: '', NOTIFY_SOCKET: notifySocket, WATCHDOG_USEC: String(watchdogUsec) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, pid: child.pid!, exited, output: () => output };
}
