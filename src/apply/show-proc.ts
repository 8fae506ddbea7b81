// Parses the master CLI's `show proc` (HAProxy 2.6):
//   #<PID>  <type>  <reloads>  <uptime>  <version>
//   6593    master  2 [failed: 1]  0d00h00m02s  2.6.12
//   # workers
//   6606    worker  1  0d00h00m01s  2.6.12
//   # old workers
//   ...
import { HaproxyAnswerError } from '../errors.js';
export interface ProcInfo {
  pid: number;
  reloads: number;
}

export interface ShowProc {
  master: ProcInfo & { failedReloads: number };
  workers: ProcInfo[];
  oldWorkers: ProcInfo[];
}

export function parseShowProc(text: string): ShowProc {
  let master: ShowProc['master'] | undefined;
  const workers: ProcInfo[] = [];
  const oldWorkers: ProcInfo[] = [];
  let sectionName = 'head';
  for (const line of text.split('\n')) {
    const heading = /^#\s*(workers|old workers|programs)/.exec(line);
    if (heading) {
      sectionName = heading[1]!;
      continue;
    }
    const m = /^(\d+)\s+(\S+)\s+(\d+)(?:\s+\[failed:\s*(\d+)\])?/.exec(line);
    if (!m) continue;
    const info = { pid: Number(m[1]), reloads: Number(m[3]) };
    if (m[2] === 'master') master = { ...info, failedReloads: Number(m[4] ?? 0) };
    else if (sectionName === 'workers') workers.push(info);
    else if (sectionName === 'old workers') oldWorkers.push(info);
  }
  if (!master) throw new HaproxyAnswerError(`unexpected answer to "show proc": ${JSON.stringify(text.slice(0, 200))}`);
  return { master, workers, oldWorkers };
}
