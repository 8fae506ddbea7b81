// `paas-router domains owners [--kind host|name|port] [filter]` and
// `paas-router domains transfer <host|name|port> <name> <app>`: the operator sees who holds each
// shared name (the daemon's own decision, from the same reads) and gives one to another app. A
// transfer writes the ownership record with check-and-set: a router or operator writing the same
// record meanwhile makes it read again and decide again.
import type { Config } from '../config/config.js';
import { OWNER_RE, claimKey, parseRecordValue } from '../model/claims.js';
import { validateFqdn } from '../model/fqdn.js';
import type { ClaimKind, OwnedName } from '../model/types.js';
import { recordValue } from '../claims/plan.js';
import { editWithCas, readEntry, usage, type KvIo } from './cas.js';
import { EXIT_OK } from './common.js';
import { readLiveView } from './explain.js';

const KINDS: readonly ClaimKind[] = ['host', 'name', 'port'];

function checkKind(kind: string): ClaimKind | undefined {
  return (KINDS as readonly string[]).includes(kind) ? (kind as ClaimKind) : undefined;
}

/** The record's name for a kind: a normal host, a lowercase app or group name, a port number. */
export function checkClaimName(kind: ClaimKind, raw: string): { ok: true; name: string } | { ok: false; message: string } {
  const v = raw.trim();
  if (kind === 'host') {
    const f = validateFqdn(v);
    return f.ok ? { ok: true, name: f.fqdn } : { ok: false, message: `${JSON.stringify(raw)} is not a valid host name: ${f.reason}` };
  }
  if (kind === 'port') {
    return /^[1-9][0-9]{0,4}$/.test(v) && Number(v) <= 65535
      ? { ok: true, name: v }
      : { ok: false, message: `${JSON.stringify(raw)} is not a port (1..65535)` };
  }
  return /^[a-z0-9][a-z0-9.-]{0,252}$/.test(v)
    ? { ok: true, name: v }
    : { ok: false, message: `${JSON.stringify(raw)} is not an app or group name (lowercase)` };
}

export interface OwnerEntry {
  kind: ClaimKind;
  name: string;
  owner: string;
  as?: 'group';
  /** recorded: in K/V; pending: the first claimant, not written yet; idle: the owner stopped asking. */
  state: 'recorded' | 'pending' | 'idle';
  idleSince?: string;
  others: readonly string[];
  key: string;
}

function entryOf(o: OwnedName): OwnerEntry {
  const state = !o.record?.valid ? 'pending' : o.ownerAsks ? 'recorded' : 'idle';
  return {
    kind: o.kind,
    name: o.name,
    owner: o.owner,
    ...(o.as ? { as: o.as } : {}),
    state,
    ...(o.record?.idleSince !== undefined ? { idleSince: new Date(o.record.idleSince).toISOString() } : {}),
    others: o.others,
    key: o.key,
  };
}

export async function domainsOwners(config: Config, opts: { kind?: string; filter?: string; json?: boolean }, io: KvIo): Promise<number> {
  const kind = opts.kind === undefined ? undefined : checkKind(opts.kind);
  if (opts.kind !== undefined && !kind) return usage(io, `--kind ${JSON.stringify(opts.kind)}: expected one of ${KINDS.join(', ')}`);
  const { model } = await readLiveView(config);
  const filter = opts.filter?.trim().toLowerCase();
  const entries = (model.owners ?? [])
    .filter((o) => (kind ? o.kind === kind : true))
    .filter((o) => (filter ? o.name.includes(filter) || o.owner.toLowerCase().includes(filter) : true))
    .map(entryOf);
  if (opts.json) {
    io.out.write(`${JSON.stringify(entries, null, 2)}\n`);
    return EXIT_OK;
  }
  if (entries.length === 0) {
    io.err.write('no shared name is claimed\n');
    return EXIT_OK;
  }
  const w = (list: string[], min: number) => Math.max(min, ...list.map((s) => s.length));
  const nameW = w(
    entries.map((e) => e.name),
    4,
  );
  const ownerW = w(
    entries.map((e) => e.owner + (e.as ? ' (group)' : '')),
    5,
  );
  io.out.write(`KIND  ${'NAME'.padEnd(nameW)}  ${'OWNER'.padEnd(ownerW)}  STATE\n`);
  for (const e of entries) {
    const state = e.state === 'idle' ? `idle since ${e.idleSince}` : e.state;
    const others = e.others.length > 0 ? `; also asked for by ${e.others.join(', ')}` : '';
    io.out.write(`${e.kind.padEnd(4)}  ${e.name.padEnd(nameW)}  ${(e.owner + (e.as ? ' (group)' : '')).padEnd(ownerW)}  ${state}${others}\n`);
  }
  return EXIT_OK;
}

export async function domainsTransfer(config: Config, kindArg: string, nameArg: string, appArg: string, opts: { group?: boolean }, io: KvIo): Promise<number> {
  const kind = checkKind(kindArg);
  if (!kind) return usage(io, `${JSON.stringify(kindArg)}: expected one of ${KINDS.join(', ')}`);
  const name = checkClaimName(kind, nameArg);
  if (!name.ok) return usage(io, name.message);
  const owner = appArg.trim();
  if (!OWNER_RE.test(owner)) return usage(io, `${JSON.stringify(appArg)} is not a Consul service or app name`);
  if (opts.group && kind !== 'name') return usage(io, '--group applies to names only (a group name is held by one of its members)');
  const prefix = config.consul.claimsPrefix;
  const key = claimKey(prefix, kind, name.name);
  return editWithCas(config, io, `transferring ${key} to ${owner}`, async (client) => {
    const current = await readEntry(client, prefix, key);
    const was = current ? parseRecordValue(current.value) : undefined;
    const value = recordValue({ owner, ...(opts.group ? { as: 'group' as const } : {}), ...(was?.ok && opts.group ? { members: was.value.members } : {}) });
    const written = await client.kvSetCas(key, JSON.stringify(value), current ? current.modifyIndex : 0);
    if (!written) return 'retry';
    const before = was?.ok ? `from ${was.value.owner} ` : '';
    io.out.write(`${kind} ${name.name} transferred ${before}to ${owner}${opts.group ? ' (as group)' : ''} (${key})\n`);
    return EXIT_OK;
  });
}
