// Hitless reload through the master CLI. HAProxy 2.6's `reload` answers nothing, so success is
// never assumed: `show proc` must show the master's reload counter move and a new worker, and a
// higher `failed` counter means the new configuration did not start.
import { HaproxyUnreachableError, ReloadFailedError, errorMessage } from '../errors.js';
import { parseShowProc, type ShowProc } from './show-proc.js';
import { sendSocketCommand } from './socket.js';

export async function showProc(masterSocket: string): Promise<ShowProc> {
  return parseShowProc(await sendSocketCommand(masterSocket, 'show proc'));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function reloadThroughMaster(masterSocket: string, timeoutMs: number): Promise<{ workerPid: number }> {
  let before: ShowProc;
  try {
    before = await showProc(masterSocket);
  } catch (err) {
    throw new HaproxyUnreachableError(`HAProxy master CLI ${masterSocket} is not reachable: ${errorMessage(err)}`, { cause: err });
  }
  // The master re-executes itself on `reload` and drops the connection: an error here is expected.
  await sendSocketCommand(masterSocket, 'reload', 2_000).catch(() => undefined);
  const oldPids = new Set(before.workers.map((w) => w.pid));
  const deadline = Date.now() + timeoutMs;
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
