// The master CLI's answer to `reload`. HAProxy 2.7+ reloads synchronously and answers once the new
// worker has loaded (or failed to): "Success=1" or "Success=0", "--", then that reload's startup
// logs (management guide, master CLI "reload"). 2.6 answers nothing: its master re-executes itself
// and drops the connection, so `show proc` is the only witness there.
export interface ReloadAnswer {
  success: boolean;
  /** 3.1+: a reload was asked while the previous one (or the start) is still loading; nothing was done. */
  busy: boolean;
  /** The startup log lines after "--". */
  logs: string[];
}

/** The synchronous answer, or undefined when there is none (2.6, or a connection that dropped). */
export function parseReloadAnswer(answer: string): ReloadAnswer | undefined {
  const m = /^Success=([01])\r?\n/.exec(answer);
  if (!m) return undefined;
  const logs = answer
    .slice(m[0].length)
    .replace(/^--\r?\n/, '')
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '');
  const success = m[1] === '1';
  return { success, busy: !success && logs.some((l) => /another reload is still in progress/i.test(l)), logs };
}

/** What an operator needs from a failed reload's logs: its [ALERT] lines, without the pid prefix. */
export function reloadFailureReason(answer: ReloadAnswer): string {
  const alerts = answer.logs.filter((l) => l.startsWith('[ALERT]')).map((l) => l.replace(/^\[ALERT\]\s*(\(\d+\)\s*)?:\s*/, ''));
  const reason = alerts.length ? alerts.join('; ') : (answer.logs.at(-1) ?? 'no startup logs');
  return reason.slice(0, 1_000);
}
