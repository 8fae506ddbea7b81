// Shared by the Vault and TLS tests (not a test file): a logger whose every line is kept, and
// the check that no secret value ever reached a log line.
import { Writable } from 'node:stream';
import type { Test } from 'tap';
import { createLogger, type Logger } from '../../src/log.js';

export interface CapturedLog {
  log: Logger;
  /** Every line written so far (JSON text, as it would reach journald). */
  lines: string[];
}

export function captureLog(level = 'debug'): CapturedLog {
  const lines: string[] = [];
  let partial = '';
  const stream = new Writable({
    write(chunk, _enc, done) {
      partial += chunk.toString();
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts.filter((l) => l !== ''));
      done();
    },
  });
  return { log: createLogger(level, stream), lines };
}

/** Fails for every secret that appears in any captured line (and says where, not what). */
export function assertNoSecrets(t: Test, lines: string[], secrets: Record<string, string | undefined>): void {
  t.ok(lines.length > 0, 'log lines were captured');
  for (const [what, value] of Object.entries(secrets)) {
    if (!value) continue;
    // PEM bodies: any one base64 line of them is a leak too.
    const needles = value.includes('-----BEGIN') ? value.split('\n').filter((l) => l.length >= 40 && !l.startsWith('-----')) : [value];
    const leaking = lines.findIndex((line) => needles.some((n) => line.includes(n)));
    t.equal(
      leaking,
      -1,
      `no log line contains the ${what}${leaking >= 0 ? ` (line ${leaking}, msg ${JSON.stringify((JSON.parse(lines[leaking]!) as { msg?: string }).msg)})` : ''}`,
    );
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
