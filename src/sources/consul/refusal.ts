// How an agent past `limits.http_max_conns_per_client` refuses a connection: it resets it before
// any answer (newer versions answer 429 instead, handled where answers are read).

export const REFUSAL_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE']);

/** A connection error that is the agent refusing one more connection from this address. */
export function isRefusal(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code !== undefined && REFUSAL_CODES.has(code);
}
