// Carries out a runtime plan over one interactive session, then reads HAProxy's state back (the
// touched backends' `show servers state`, the changed map keys' `get map`) and throws when it
// differs from the candidate files: the caller then falls back to a validated reload, never to a
// wrong state.
import { dirname, join } from 'node:path';
import { RuntimeRefusedError, errorMessage } from '../../errors.js';
import { keyDiffers, parseGetMap } from './map-lookup.js';
import type { MapContents } from './map-view.js';
import type { ServerLine } from './parse.js';
import { weightOf, type RuntimeOp } from './plan.js';
import { RuntimeSession } from '../socket.js';

/** Admin-state bits meaning "in maintenance" (FMAINT, IMAINT, CMAINT, RMAINT, HMAINT). */
const MAINT_MASK = 0x01 | 0x02 | 0x04 | 0x20 | 0x40;

export interface DesiredState {
  /** backend → server name → line, for the backends the plan touches. */
  servers: Map<string, Map<string, ServerLine>>;
  hosts: MapContents;
  /** The other runtime maps (maintenance.map): file name → entries. */
  maps?: Map<string, Map<string, string>>;
}

/** One server as `show servers state` reports it. */
export interface RuntimeServer {
  address: string;
  port: number;
  maint: boolean;
  /** User-set weight (srv_uweight). */
  weight: number;
}

export class RuntimeExecutor {
  /** `backend/name` of servers removed from the config but still draining connections. */
  private readonly draining = new Set<string>();

  constructor(
    private readonly socket: string,
    private readonly mapPath: string,
    private readonly timeoutMs = 5_000,
  ) {}

  get drainingServers(): string[] {
    return [...this.draining].sort();
  }

  async apply(ops: RuntimeOp[], desired: DesiredState): Promise<void> {
    const session = await this.open();
    try {
      for (const op of ops) await this.run(session, op);
      await this.verify(session, ops, desired);
    } finally {
      session.close();
    }
  }

  /** Deletes drained servers whose last connection has ended; the rest wait for the next call. */
  async retryDrained(): Promise<void> {
    if (this.draining.size === 0) return;
    const session = await this.open();
    try {
      for (const id of [...this.draining]) await this.tryDelete(session, id);
    } finally {
      session.close();
    }
  }

  /** What HAProxy runs, over one session: its hosts map, the other runtime `maps`, every backend's servers. */
  async readRuntime(maps: readonly string[]): Promise<RuntimeState> {
    const session = await this.open();
    try {
      const hosts = parseShowMap(await session.send(`show map ${this.mapPath}`));
      const read = new Map<string, Map<string, string>>();
      for (const map of maps) read.set(map, parseShowMap(await session.send(`show map ${this.pathOf(map)}`)));
      const servers = serversByBackend(await session.send('show servers state'));
      return { hosts, maps: read, servers };
    } finally {
      session.close();
    }
  }

  /** After a reload, servers that were draining are gone with the old configuration. */
  forgetDrained(): void {
    this.draining.clear();
  }

  private async open(): Promise<RuntimeSession> {
    try {
      return await RuntimeSession.open(this.socket, this.timeoutMs);
    } catch (err) {
      throw new RuntimeRefusedError(`runtime API ${this.socket} not reachable: ${errorMessage(err)}`, { cause: err });
    }
  }

  private async run(session: RuntimeSession, op: RuntimeOp): Promise<void> {
    switch (op.op) {
      case 'add-server': {
        const id = `${op.backend}/${op.server.name}`;
        if (this.draining.delete(id)) {
          // Back before its drain finished: the same name means the same address; just re-enable.
          if (!op.server.disabled) await expect(session, `enable server ${id}`, '');
          return;
        }
        await expect(session, `add server ${id} ${op.server.endpoint} ${op.server.args.join(' ')}`.trimEnd(), /^New server registered/);
        if (op.server.args.includes('check')) await expect(session, `enable health ${id}`, '');
        // A dynamic server starts in maintenance: enable it unless the config says disabled.
        if (!op.server.disabled) await expect(session, `enable server ${id}`, '');
        return;
      }
      case 'del-server': {
        const id = `${op.backend}/${op.name}`;
        // Drain: no new requests from now on; running ones finish before the server is deleted.
        await expect(session, `disable server ${id}`, '');
        this.draining.add(id);
        await this.tryDelete(session, id);
        return;
      }
      case 'enable-server':
      case 'disable-server':
        await expect(session, `${op.op === 'enable-server' ? 'enable' : 'disable'} server ${op.backend}/${op.name}`, '');
        return;
      case 'map-add':
        await expect(session, `add map ${this.pathOf(op.map)} ${op.key} ${op.value}`, '');
        return;
      case 'map-set':
        await expect(session, `set map ${this.pathOf(op.map)} ${op.key} ${op.value}`, '');
        return;
      case 'map-del':
        await expect(session, `del map ${this.pathOf(op.map)} ${op.key}`, '');
        return;
      case 'set-weight':
        await expect(session, `set server ${op.backend}/${op.name} weight ${op.weight}`, '');
        return;
    }
  }

  /** hosts.map, or another map of the same directory. */
  private pathOf(map: string | undefined): string {
    return map === undefined ? this.mapPath : join(dirname(this.mapPath), map);
  }

  private async tryDelete(session: RuntimeSession, id: string): Promise<void> {
    const answer = await session.send(`del server ${id}`);
    if (/^Server deleted/.test(answer) || /No such server/.test(answer)) {
      this.draining.delete(id);
    } else if (!/still has connections|connections attached|being used|in maintenance/i.test(answer)) {
      throw new RuntimeRefusedError(`HAProxy refused "del server ${id}": ${answer}`);
    }
  }

  private async verify(session: RuntimeSession, ops: RuntimeOp[], desired: DesiredState): Promise<void> {
    const backends = new Set(ops.flatMap((op) => ('backend' in op ? [op.backend] : [])));
    for (const backend of backends) {
      const actual = parseServersState(await session.send(`show servers state ${backend}`));
      const wrong = serversDiffer(backend, desired.servers.get(backend) ?? new Map(), actual, (name) => this.draining.has(`${backend}/${name}`));
      if (wrong) throw mismatch(wrong);
    }
    for (const [map, keys] of changedKeys(ops)) {
      const what = map === undefined ? 'the runtime hosts map differs from hosts.map' : `the runtime map ${map} differs from the file`;
      const wanted = map === undefined ? desired.hosts : (desired.maps?.get(map) ?? new Map<string, string>());
      const wrong = await this.keysDiffer(session, what, this.pathOf(map), keys, wanted);
      if (wrong) throw mismatch(wrong);
    }
  }

  /**
   * Reads back only the `keys` the ops changed (`get map`), not the whole map (tens of thousands of
   * entries at 10 000 apps). When the map's match method cannot answer for one exact key (an
   * operator's template using `map_dom`, `map_beg` or `-i` on it), a stale entry could hide behind
   * another key's match: that map is read whole instead.
   */
  private async keysDiffer(session: RuntimeSession, what: string, path: string, keys: ReadonlySet<string>, wanted: MapContents): Promise<string | undefined> {
    for (const key of keys) {
      const command = `get map ${path} ${key}`;
      const answer = await session.send(command);
      const lookups = parseGetMap(answer);
      if (!lookups) throw new RuntimeRefusedError(`HAProxy refused "${command}": ${answer.trim() || '(no answer)'}`);
      const wrong = keyDiffers(key, wanted.get(key), lookups);
      if (wrong === 'inexact') return mapDiffers(what, wanted, parseShowMap(await session.send(`show map ${path}`)));
      if (wrong) return `${what} at ${key}: ${wrong}`;
    }
    return undefined;
  }
}

/** The keys the map ops change, by map (undefined: hosts.map). */
function changedKeys(ops: readonly RuntimeOp[]): Map<string | undefined, Set<string>> {
  const keys = new Map<string | undefined, Set<string>>();
  for (const op of ops) {
    if (op.op !== 'map-add' && op.op !== 'map-set' && op.op !== 'map-del') continue;
    let set = keys.get(op.map);
    if (!set) keys.set(op.map, (set = new Set()));
    set.add(op.key);
  }
  return keys;
}

/** What HAProxy holds at runtime: hosts map, other maps by file name, servers by backend. */
export interface RuntimeState {
  hosts: Map<string, string>;
  maps: Map<string, Map<string, string>>;
  servers: Map<string, Map<string, RuntimeServer>>;
}

/**
 * How one backend's servers at runtime differ from its lines in the files, or undefined. A server
 * the files do not list is allowed only in maintenance while `draining(name)` says it is drained.
 */
export function serversDiffer(
  backend: string,
  wanted: ReadonlyMap<string, ServerLine>,
  actual: ReadonlyMap<string, RuntimeServer>,
  draining: (name: string) => boolean,
): string | undefined {
  for (const [name, line] of wanted) {
    const got = actual.get(name);
    const { address, port } = splitEndpoint(line.endpoint);
    if (!got) return `server ${backend}/${name} is missing`;
    if (got.address !== address || got.port !== port) return `server ${backend}/${name} is ${got.address}:${got.port}, not ${address}:${port}`;
    if (got.maint !== line.disabled)
      return `server ${backend}/${name} is ${got.maint ? 'in maintenance' : 'enabled'}, the config says ${line.disabled ? 'disabled' : 'enabled'}`;
    const weight = weightOf(line.args);
    if (weight !== undefined && got.weight !== weight) return `server ${backend}/${name} has weight ${got.weight}, the config says ${weight}`;
  }
  for (const [name, got] of actual) {
    if (wanted.has(name)) continue;
    if (!draining(name) || !got.maint) return `server ${backend}/${name} is not in the config`;
  }
  return undefined;
}

/** `what` and the first key where a runtime map differs from its file, or undefined. */
export function mapDiffers(what: string, wanted: MapContents, actual: ReadonlyMap<string, string>): string | undefined {
  const wrong = [...wanted].find(([k, v]) => actual.get(k) !== v) ?? [...actual].find(([k]) => wanted.get(k) === undefined);
  return wrong || actual.size !== wanted.size ? `${what}${wrong ? ` at ${wrong[0]}` : ''}` : undefined;
}

function mismatch(what: string): RuntimeRefusedError {
  return new RuntimeRefusedError(`HAProxy's state differs from the configuration after a runtime change: ${what}`);
}

async function expect(session: RuntimeSession, command: string, answer: string | RegExp): Promise<void> {
  const got = await session.send(command);
  const ok = typeof answer === 'string' ? got.trim() === answer : answer.test(got.trim());
  if (!ok) throw new RuntimeRefusedError(`HAProxy refused "${command}": ${got.trim() || '(no answer)'}`);
}

/** `ipv4@10.0.0.5:80`, `10.0.0.5:80`, `ipv6@fd00::1:80` → address and port. */
export function splitEndpoint(endpoint: string): { address: string; port: number } {
  const bare = endpoint.replace(/^ipv[46]@/, '');
  const at = bare.lastIndexOf(':');
  return { address: bare.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(bare.slice(at + 1)) };
}

/** `show servers state <backend>` (format 1): be_id be_name srv_id srv_name srv_addr op admin ... srv_port ... */
export function parseServersState(text: string): Map<string, RuntimeServer> {
  return serversByBackend(text).values().next().value ?? new Map();
}

/** `show servers state` of every backend: backend → server name → server. */
export function serversByBackend(text: string): Map<string, Map<string, RuntimeServer>> {
  const backends = new Map<string, Map<string, RuntimeServer>>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#') || /^\d+$/.test(line.trim())) continue;
    const f = line.trim().split(/\s+/);
    if (f.length < 19) continue;
    let servers = backends.get(f[1]!);
    if (!servers) backends.set(f[1]!, (servers = new Map()));
    servers.set(f[3]!, { address: f[4]!, port: Number(f[18]), maint: (Number(f[6]) & MAINT_MASK) !== 0, weight: Number(f[7]) });
  }
  return backends;
}

/** `show map <file>`: `0x55... key value` per line. */
export function parseShowMap(text: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^0x[0-9a-f]+\s+(\S+)\s+(.*)$/.exec(line.trim());
    if (m) entries.set(m[1]!, m[2]!);
  }
  return entries;
}
