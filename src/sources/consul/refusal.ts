// How an agent past `limits.http_max_conns_per_client` refuses a connection: it resets it before
// any answer (newer versions answer 429 instead). Both transports (http.ts, h2.ts) and the writes
// turn that into ConsulRefusedError, which the requests retry with backoff (ConsulHttp.retryRefused).
import { RouterError } from '../../errors.js';

export const REFUSAL_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE']);

/** The agent cut the connection before answering, or answered 429: worth a retry after a pause. */
export class ConsulRefusedError extends RouterError {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super('CONSUL_REFUSED', message);
  }
}

/** A connection error that is the agent refusing one more connection from this address. */
export function isRefusal(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code !== undefined && REFUSAL_CODES.has(code);
}

/** The error a refused connection is (ConsulRefusedError), or `err` itself. */
export function asRefusal(err: unknown): unknown {
  return isRefusal(err) ? new ConsulRefusedError(`Consul reset the connection (${(err as NodeJS.ErrnoException).code})`) : err;
}

/** The refusal an answer is (429 Too Many Requests), or undefined. */
export function refusedAnswer(status: number | undefined): ConsulRefusedError | undefined {
  return status === 429 ? new ConsulRefusedError('Consul answered 429 Too Many Requests', 429) : undefined;
}
