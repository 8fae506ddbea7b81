// Dev and test helper: runs a real HAProxy in master-worker mode (foreground, -W) with a master
// socket, the way systemd's haproxy.service (-Ws) does in production.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parseShowProc } from '../src/apply/show-proc.js';
import { sendSocketCommand } from '../src/apply/socket.js';

export interface HaproxyProcess {
  proc: ChildProcess;
  masterSocket: string;
  /** stdout+stderr so far, for diagnostics. */
  output(): string;
  stop(): Promise<void>;
}

export async function startHaproxy(opts: { bin?: string; configFile: string; masterSocket: string; timeoutMs?: number }): Promise<HaproxyProcess> {
  const bin = opts.bin ?? 'haproxy';
  const proc = spawn(bin, ['-W', '-S', `${opts.masterSocket},mode,600`, '-f', opts.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout!.on('data', (d) => (output += d));
  proc.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`haproxy exited (${proc.exitCode}) at start:\n${output}`);
    if (existsSync(opts.masterSocket) && (await workerServing(opts.masterSocket))) break;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`haproxy did not come up within ${opts.timeoutMs ?? 10_000} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    proc,
    masterSocket: opts.masterSocket,
    output: () => output,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * True once a worker answers through the master CLI. A worker in `show proc` is not enough: from
 * HAProxy 3.1 the master lists it while it still parses the config and before it binds, and it
 * answers `show info` only once it runs.
 */
async function workerServing(masterSocket: string): Promise<boolean> {
  const worker = await sendSocketCommand(masterSocket, 'show proc', 1_000)
    .then((answer) => parseShowProc(answer).workers[0])
    .catch(() => undefined); // not answering yet
  if (!worker) return false;
  const info = await sendSocketCommand(masterSocket, `@!${worker.pid} show info`, 1_000).catch(() => '');
  return new RegExp(`^Pid: ${worker.pid}$`, 'm').test(info);
}
