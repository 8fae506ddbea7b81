// Hitless reload through the master CLI. HAProxy 2.6's `reload` answers nothing, so success is
// never assumed: `show proc` must show the master's reload counter move and a new worker, and a
// higher `failed` counter means the new configuration did not start. 2.7+ answers the reload itself
// (reload-answer.ts), and from 3.1 `show proc` lists a new worker while it is still loading, so
// there the answer decides and `show proc` only names the new worker.
import { HaproxyUnreachableError, ReloadFailedError, errorMessage } from '../errors.js';
import { parseReloadAnswer, reloadFailureReason } from './reload-answer.js';
import { parseShowProc, type ShowProc } from './show-proc.js';
import { sendSocketCommand } from './socket.js';

export async function showProc(masterSocket: string): Promise<ShowProc> {
  return parseShowProc(await sendSocketCommand(masterSocket, 'show proc'));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function reloadThroughMaster(masterSocket: string, timeoutMs: number): Promise<{ workerPid: number }> {
  const deadline = Date.now() + timeoutMs;
  let before: ShowProc;
  for (;;) {
    try {
      before = await showProc(masterSocket);
    } catch (err) {
      throw new HaproxyUnreachableError(`HAProxy master CLI ${masterSocket} is not reachable: ${errorMessage(err)}`, { cause: err });
    }
    // 2.6's master re-executes itself on `reload` and drops the connection: an error once connected
    // is expected. A failed connect is not: the command never reached the master, so waiting for a
    // reload would only spend the whole timeout.
    let answer = '';
    try {
      answer = await sendSocketCommand(masterSocket, 'reload', Math.max(deadline - Date.now(), 1));
    } catch (err) {
      if (neverConnected(err)) {
        throw new HaproxyUnreachableError(`HAProxy master CLI ${masterSocket} refused the reload command: ${errorMessage(err)}`, { cause: err });
      }
    }
    const sync = parseReloadAnswer(answer);
    // 3.1+ refuses a reload while the start or the previous reload is still loading: ask again.
    if (sync?.busy && Date.now() < deadline) {
      await sleep(50);
      continue;
    }
    if (sync && !sync.success) throw new ReloadFailedError(`HAProxy refused the reload: ${reloadFailureReason(sync)}; the previous workers keep serving`);
    break;
  }
  const oldPids = new Set(before.workers.map((w) => w.pid));
  let lastError = 'no answer';
  while (Date.now() < deadline) {
    await sleep(50);
    let now: ShowProc;
    try {
      now = await showProc(masterSocket);
    } catch (err) {
      lastError = errorMessage(err); // the master is busy re-executing
      continue;
    }
    if (now.master.reloads <= before.master.reloads) continue;
    if (now.master.failedReloads > before.master.failedReloads) {
      throw new ReloadFailedError('HAProxy refused the reload (show proc counts a failed reload); the previous workers keep serving');
    }
    const fresh = now.workers.find((w) => !oldPids.has(w.pid));
    if (fresh) return { workerPid: fresh.pid };
    lastError = 'no new worker yet';
  }
  throw new ReloadFailedError(`HAProxy did not confirm the reload within ${timeoutMs} ms (${lastError})`);
}

/** A connect that failed (no socket, nobody listening, no permission, no connection in time). */
function neverConnected(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'EACCES' || /^cannot connect to /.test(errorMessage(err));
}

/** Frontends `show stat` reports PAUSED (CSV with its `# pxname,svname,...` header). */
export function pausedFrontends(showStat: string): string[] {
  const lines = showStat.split('\n');
  const header =
    lines
      .find((l) => l.startsWith('# '))
      ?.slice(2)
      .split(',') ?? [];
  const px = header.indexOf('pxname');
  const sv = header.indexOf('svname');
  const status = header.indexOf('status');
  if (px < 0 || sv < 0 || status < 0) return [];
  return lines
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(','))
    .filter((f) => f[sv] === 'FRONTEND' && f[status] === 'PAUSED')
    .map((f) => f[px]!);
}

/**
 * HAProxy 2.6 can start a new worker with its frontends paused: when a bind needed the retry loop
 * (a port another process freed during the reload), the SIGTTOU meant for the old worker is handled
 * by the new one too, which then accepts nothing while `show proc` looks healthy. A fresh worker
 * has no reason to be paused: resume what is. Asks the new worker itself (it answers on the runtime
 * socket once it runs its loop, after it has handled that signal). Returns the resumed frontends.
 */
export async function resumePausedFrontends(runtimeSocket: string, workerPid: number, timeoutMs = 2_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let answer: string;
    try {
      answer = await sendSocketCommand(runtimeSocket, 'show info;show stat -1 1 -1', timeoutMs);
    } catch (err) {
      // No socket file: the templates render no runtime socket, so there is nothing to check.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      // Anything else (refused, reset, timeout) is not "no paused frontends": retry, then say so.
      if (Date.now() > deadline)
        throw new ReloadFailedError(`cannot ask the new worker ${workerPid} for paused frontends on ${runtimeSocket}: ${errorMessage(err)}`, { cause: err });
      await sleep(20);
      continue;
    }
    if (Number(/^Pid: (\d+)$/m.exec(answer)?.[1]) === workerPid) {
      const paused = pausedFrontends(answer);
      for (const name of paused) await sendSocketCommand(runtimeSocket, `enable frontend ${name}`, timeoutMs);
      return paused;
    }
    if (Date.now() > deadline)
      throw new ReloadFailedError(
        `the runtime socket ${runtimeSocket} still answers for another process than the new worker ${workerPid} after ${timeoutMs} ms`,
      );
    await sleep(20);
  }
}
