// What a handler hands back to the HTTP layer. Handlers never touch the response object, so
// the server can apply ACL filtering, fault modes and blocking in one place.

export type Reply =
  | { kind: 'json'; status: number; body: unknown }
  | { kind: 'text'; status: number; body: string | Buffer; headers?: Record<string, string> }
  | { kind: 'empty'; status: number };

/** One evaluation of a read endpoint. `index` becomes X-Consul-Index. */
export interface QueryResult {
  index: number;
  /** Consul's ErrNotFound: a blocked query keeps waiting while the answer stays "not found". */
  notFound: boolean;
  reply: Reply;
}

/** A failure with the status and plain-text body Consul uses for it. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const json = (body: unknown, status = 200): Reply => ({ kind: 'json', status, body });
export const empty = (status: number): Reply => ({ kind: 'empty', status });
