// Sessions (Consul docs: api-docs/session, features/sessions; state store: session.go) as the ACME
// lock uses them: create with a TTL, renew, destroy, info, list; K/V `?acquire=`/`?release=` live
// in kv.ts. A session is invalidated when destroyed or when it is not renewed within twice its TTL
// (Consul's sessionTTLMultiplier); its keys are then released (Behavior release) or deleted
// (Behavior delete), and each of them stays unacquirable for the session's LockDelay.
// Texts and shapes follow consul 1.8.7 (test/dev/consul-behaviour.test.ts pins them).
import { randomUUID } from 'node:crypto';
import { parseGoDuration } from './duration.js';
import { rpcError } from './registration.js';

export interface Session {
  ID: string;
  Name: string;
  Node: string;
  /** Nanoseconds, as Consul reports it. */
  LockDelay: number;
  Behavior: 'release' | 'delete';
  TTL: string;
  NodeChecks: string[];
  ServiceChecks: null;
  CreateIndex: number;
  ModifyIndex: number;
}

const MIN_TTL_MS = 10_000;
const MAX_TTL_MS = 24 * 3_600_000;
const DEFAULT_LOCK_DELAY_MS = 15_000;
const TTL_MULTIPLIER = 2;

/** Consul's FixupLockDelay: a bare number below 1000 means seconds, otherwise nanoseconds. */
function lockDelayMs(value: unknown): number {
  if (value === undefined) return DEFAULT_LOCK_DELAY_MS;
  if (typeof value === 'number') return value < 1000 ? value * 1000 : value / 1e6;
  if (typeof value === 'string') {
    const ms = parseGoDuration(value);
    if (ms !== undefined) return ms;
  }
  throw rpcError(`Request decode failed: invalid LockDelay ${JSON.stringify(value)}`);
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** K/V key → time (ms) before which nobody may acquire it. */
  private readonly lockDelays = new Map<string, number>();

  /** `expire(id)` is called when a session's TTL runs out (the server then invalidates it). */
  constructor(
    private readonly node: string,
    private readonly expire: (id: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  create(body: Record<string, unknown>, index: number): Session {
    const behavior = body.Behavior ?? 'release';
    if (behavior !== 'release' && behavior !== 'delete') throw rpcError(`Invalid Behavior setting '${String(behavior)}'`);
    let ttl = '';
    if (body.TTL !== undefined && body.TTL !== '') {
      const ms = typeof body.TTL === 'string' ? parseGoDuration(body.TTL) : undefined;
      if (ms === undefined) throw rpcError(`Request decode failed: invalid TTL ${JSON.stringify(body.TTL)}`);
      if (ms < MIN_TTL_MS || ms > MAX_TTL_MS) throw rpcError(`Invalid Session TTL '${Math.round(ms * 1e6)}', must be between [10s=24h0m0s]`);
      ttl = body.TTL as string;
    }
    const session: Session = {
      ID: randomUUID(),
      Name: typeof body.Name === 'string' ? body.Name : '',
      Node: typeof body.Node === 'string' && body.Node ? body.Node : this.node,
      LockDelay: Math.round(lockDelayMs(body.LockDelay) * 1e6),
      Behavior: behavior,
      TTL: ttl,
      NodeChecks: ['serfHealth'],
      ServiceChecks: null,
      CreateIndex: index,
      ModifyIndex: index,
    };
    this.sessions.set(session.ID, session);
    this.arm(session);
    return session;
  }

  get(id: string): Session | undefined {
    return this.sessions.get(id);
  }

  list(): Session[] {
    return [...this.sessions.values()];
  }

  /** Restarts the TTL; undefined when the session does not exist (404). */
  renew(id: string): Session | undefined {
    const session = this.sessions.get(id);
    if (session) this.arm(session);
    return session;
  }

  /** Removes the session; the caller releases or deletes its keys and calls `delayLocks`. */
  remove(id: string): Session | undefined {
    const session = this.sessions.get(id);
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
    this.sessions.delete(id);
    return session;
  }

  delayLocks(keys: string[], session: Session): void {
    const until = this.now() + session.LockDelay / 1e6;
    if (session.LockDelay > 0) for (const key of keys) this.lockDelays.set(key, until);
  }

  lockDelayed(key: string): boolean {
    const until = this.lockDelays.get(key);
    if (until === undefined) return false;
    if (this.now() < until) return true;
    this.lockDelays.delete(key);
    return false;
  }

  close(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  private arm(session: Session): void {
    clearTimeout(this.timers.get(session.ID));
    if (!session.TTL) return;
    const ms = parseGoDuration(session.TTL)! * TTL_MULTIPLIER;
    const timer = setTimeout(() => this.expire(session.ID), ms);
    timer.unref();
    this.timers.set(session.ID, timer);
  }
}
