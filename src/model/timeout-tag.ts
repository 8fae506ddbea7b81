// The duration value of the timeout tags (router.timeout-server, -client, -connect, -tunnel).
import { parseDuration } from '../config/duration.js';

const MAX_TIMEOUT_MS = 24 * 3600 * 1000;

export const TIMEOUT_ALLOWED = 'a duration <integer><ms|s|m|h> greater than 0 and at most 24h, e.g. 120s';

/** A HAProxy duration of at most 24h, lowercased; undefined when the value is not one. */
export function parseTimeout(v: string): { ok: true; value: string } | { ok: false } {
  const m = /^([1-9][0-9]{0,8})(ms|s|m|h)$/.exec(v.toLowerCase());
  if (!m) return { ok: false };
  return parseDuration(m[0])! <= MAX_TIMEOUT_MS ? { ok: true, value: m[0] } : { ok: false };
}
