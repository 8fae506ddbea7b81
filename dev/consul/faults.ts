// Fault injection for /v1 requests, so clients can be tested against a Consul (or a proxy in
// front of it) that misbehaves:
// - 'http500'   answers 500 at once, without running the request (a leaderless cluster);
// - 'garbage'   answers 200 with an HTML body at once, without running the request (a proxy
//               error page served with the wrong status);
// - 'truncated' runs the request without blocking, then cuts the JSON body in half;
// - 'slow'      holds the request for its wait (only when it is a blocking read) plus 2 s,
//               then runs it without blocking: longer than a client that allows
//               wait + wait/16 + a little slack should wait.
// - 'hold'      answers 200 at once but holds the body until the fault is cleared (a space every
//               second keeps clients' idle timeouts from firing), then runs the request: a test
//               sees a read in flight for as long as it needs (a start half way), whatever the load.
// The three fast modes answer immediately on purpose: a client that re-requests at once
// then shows up in requestCount.
import type { Reply } from './reply.js';

export type FaultMode = 'none' | 'http500' | 'garbage' | 'truncated' | 'slow' | 'hold';
export const FAULT_MODES: readonly FaultMode[] = ['none', 'http500', 'garbage', 'truncated', 'slow', 'hold'];
export const SLOW_EXTRA_MS = 2000;

export const isFaultMode = (value: string): value is FaultMode => (FAULT_MODES as readonly string[]).includes(value);

/** Replies for the modes that never run the request. */
export function immediateFault(mode: FaultMode): Reply | undefined {
  if (mode === 'http500') return { kind: 'text', status: 500, body: 'rpc error making call: No cluster leader' };
  if (mode === 'garbage') {
    return {
      kind: 'text',
      status: 200,
      body: '<html><body><h1>502 Bad Gateway</h1></body></html>\n',
      headers: { 'Content-Type': 'application/json' },
    };
  }
  return undefined;
}

/** A 200 whose JSON body stops halfway (never valid JSON, never empty). */
export function truncateReply(reply: Reply): Reply {
  const text = reply.kind === 'json' ? JSON.stringify(reply.body) : reply.kind === 'text' ? reply.body.toString() : '';
  const cut = text.length >= 2 ? text.slice(0, Math.floor(text.length / 2)) : '[{"Key":';
  return { kind: 'text', status: 200, body: cut, headers: { 'Content-Type': 'application/json' } };
}
