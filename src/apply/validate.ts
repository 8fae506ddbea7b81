// `haproxy -c`: every candidate passes HAProxy's own parser before it can replace the running one.
import { execFile } from 'node:child_process';
import { HaproxyInvalidError, RouterError } from '../errors.js';

export function checkConfig(bin: string, configPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(bin, ['-c', '-f', configPath], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (!err) return resolve();
      const output = `${stdout}${stderr}`.trim();
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        return reject(new RouterError('HAPROXY_MISSING', `cannot run "${bin}": not found (install haproxy or set haproxy.bin)`));
      }
      reject(new HaproxyInvalidError(`haproxy -c refused the candidate configuration: ${firstAlert(output)}`, output));
    });
  });
}

/** The first [ALERT] line is the one an operator needs; the rest follows in `output`. */
function firstAlert(output: string): string {
  const line = output.split('\n').find((l) => l.includes('[ALERT]')) ?? output.split('\n')[0] ?? '';
  return line.replace(/^\[ALERT\]\s*(\(\d+\)\s*)?:\s*/, '').slice(0, 500) || 'no output';
}
