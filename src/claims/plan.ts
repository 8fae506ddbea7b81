// What the claim recorder writes, from the model's owners: pure, so the rules are table-tested.
// - a name asked for and not recorded (or recorded with a value that is not ours): record its holder;
// - a recorded owner that stopped asking: mark the record idle (the time it stopped);
// - an idle owner that asks again: clear the mark;
// - an owner idle for the grace period: delete the record, so the next claimant can record itself.
// Every write is check-and-set (`?cas=0` to create, the ModifyIndex otherwise): two routers
// writing at once cannot both win, and a record an operator changed meanwhile is left alone.
import type { ClaimRecordValue, OwnedName } from '../model/types.js';

export type ClaimWrite =
  | { op: 'put'; key: string; cas: number; value: ClaimRecordValue; why: 'new' | 'invalid' | 'idle' | 'back' }
  | { op: 'delete'; key: string; cas: number; why: 'released' };

/** The record value of an owned name, with or without the idle mark. */
export function recordValue(owned: Pick<OwnedName, 'owner' | 'as' | 'members'>, idleSince?: number): ClaimRecordValue {
  return {
    owner: owned.owner,
    ...(owned.as ? { as: owned.as } : {}),
    ...(owned.members && owned.members.length > 0 ? { members: [...owned.members] } : {}),
    ...(idleSince !== undefined ? { idle_since: idleSince } : {}),
  };
}

export function planClaimWrites(owners: readonly OwnedName[], now: number, graceMs: number): ClaimWrite[] {
  const writes: ClaimWrite[] = [];
  for (const o of owners) {
    const r = o.record;
    if (!r) {
      if (o.ownerAsks) writes.push({ op: 'put', key: o.key, cas: 0, value: recordValue(o), why: 'new' });
    } else if (!r.valid) {
      if (o.ownerAsks) writes.push({ op: 'put', key: o.key, cas: r.modifyIndex, value: recordValue(o), why: 'invalid' });
    } else if (o.ownerAsks) {
      if (r.idleSince !== undefined) writes.push({ op: 'put', key: o.key, cas: r.modifyIndex, value: recordValue(o), why: 'back' });
    } else if (r.idleSince === undefined) {
      writes.push({ op: 'put', key: o.key, cas: r.modifyIndex, value: recordValue(o, now), why: 'idle' });
    } else if (now - r.idleSince >= graceMs) {
      writes.push({ op: 'delete', key: o.key, cas: r.modifyIndex, why: 'released' });
    }
  }
  return writes;
}
