// The query of a paged /status (DESIGN §5, third wave): which page of apps, which app, which
// filter, which order. Parsed strictly: a bad value is a 400 that names the parameter.
import { RouterError } from '../errors.js';

export const DEFAULT_LIMIT = 200;
export const MAX_LIMIT = 1000;
/** Longest `after`, `app` or `q` accepted (a Consul service name is far shorter). */
const MAX_TEXT = 512;

export const SORTS = ['name', 'rate', 'errors', 'response'] as const;
export type StatusSort = (typeof SORTS)[number];

export interface StatusQuery {
  /** Apps per page, and rejection rows per page. */
  limit: number;
  /** The last app of the previous page (`next` of that page). */
  after: string | null;
  /** Lowercased text an app's name or one of its hosts contains (rejections: service, input or key). */
  q: string | null;
  /** One app (and the rejected inputs of that service) whole: no page, no cap. */
  app: string | null;
  /** name (default), or by the latest traffic sample: request rate, 5xx rate, response time (highest first). */
  sort: StatusSort;
  /** The last service of the previous page of rejected inputs (`rejectionsPage.next`). */
  rejectionsAfter: string | null;
}

export const DEFAULT_QUERY: StatusQuery = { limit: DEFAULT_LIMIT, after: null, q: null, app: null, sort: 'name', rejectionsAfter: null };

/** A bad /status query parameter: the listener answers 400 with this message. */
export class StatusQueryError extends RouterError {
  constructor(
    readonly param: string,
    message: string,
  ) {
    super('BAD_STATUS_QUERY', `${param}: ${message}`);
  }
}

const PARAMS = new Set(['limit', 'after', 'q', 'app', 'sort', 'rejections_after']);

export function parseStatusQuery(params: URLSearchParams): StatusQuery {
  for (const key of params.keys()) {
    if (!PARAMS.has(key)) throw new StatusQueryError(clip(key), `unknown parameter (known: ${[...PARAMS].join(', ')})`);
  }
  const one = (name: string): string | null => {
    const all = params.getAll(name);
    if (all.length > 1) throw new StatusQueryError(name, 'given more than once');
    const v = all[0];
    if (v === undefined || v === '') return null;
    if (v.length > MAX_TEXT) throw new StatusQueryError(name, `longer than ${MAX_TEXT} characters`);
    return v;
  };
  const limitText = one('limit');
  let limit = DEFAULT_LIMIT;
  if (limitText !== null) {
    limit = /^\d{1,7}$/.test(limitText) ? Number(limitText) : Number.NaN;
    if (!(limit >= 1 && limit <= MAX_LIMIT))
      throw new StatusQueryError('limit', `must be a whole number from 1 to ${MAX_LIMIT}, got ${JSON.stringify(clip(limitText))}`);
  }
  const sort = one('sort') ?? 'name';
  if (!(SORTS as readonly string[]).includes(sort)) throw new StatusQueryError('sort', `must be one of ${SORTS.join(', ')}, got ${JSON.stringify(clip(sort))}`);
  const q = one('q')?.trim().toLowerCase() || null;
  return { limit, after: one('after'), q, app: one('app'), sort: sort as StatusSort, rejectionsAfter: one('rejections_after') };
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
