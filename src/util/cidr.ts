// CIDR blocks (`10.0.0.0/8`, `fd00::/8`) and bare addresses, as HAProxy's `src` ACL takes them.
import { isIP } from 'node:net';

/** A value as error messages quote it: JSON-escaped (no control characters reach a log) and clipped. */
function quoted(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}...` : value);
}

/**
 * `10.0.0.0/8`, `192.0.2.7`, `2001:db8::/32`, `::1`: the canonical form (lower case), or why not.
 * The one validator of networks, for tags (router.allow) and config keys alike.
 */
export function parseCidr(value: string): { ok: true; cidr: string } | { ok: false; reason: string } {
  const slash = value.indexOf('/');
  const address = (slash === -1 ? value : value.slice(0, slash)).toLowerCase();
  if (address.includes('%')) return { ok: false, reason: `${quoted(value)}: zone indexes (%) are not allowed` };
  const family = isIP(address);
  if (family === 0) return { ok: false, reason: `${quoted(value)} is not an IP address or CIDR block (e.g. 10.0.0.0/8, fd00::/8)` };
  if (slash === -1) return { ok: true, cidr: address };
  const prefix = value.slice(slash + 1);
  const max = family === 4 ? 32 : 128;
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefix) || Number(prefix) > max) return { ok: false, reason: `${quoted(value)}: the prefix length must be 0-${max}` };
  return { ok: true, cidr: `${address}/${prefix}` };
}

/** Why `value` is not an IPv4/IPv6 address or CIDR block, or undefined when it is one. */
export function cidrProblem(value: string): string | undefined {
  const parsed = parseCidr(value);
  return parsed.ok ? undefined : parsed.reason;
}

/** An IPv4 or IPv6 address as a number and its family; undefined when it is not an IP literal. */
function ipValue(address: string): { family: 4 | 6; value: bigint } | undefined {
  const family = isIP(address);
  if (family === 4) return { family, value: address.split('.').reduce((n, part) => (n << 8n) | BigInt(Number(part)), 0n) };
  if (family !== 6) return undefined;
  // Expand `::` and a trailing dotted IPv4 part into eight 16-bit groups.
  let text = address.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  if (dotted) {
    const v4 = ipValue(dotted)!.value;
    text = `${text.slice(0, -dotted.length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return { family, value: groups.reduce((n, g) => (n << 16n) | BigInt(Number.parseInt(g, 16)), 0n) };
}

/**
 * Whether IP address `address` lies in `cidr` (a block or a bare address, already accepted by
 * cidrProblem). Families never mix: `::ffff:10.0.0.1` is not in `10.0.0.0/8`.
 */
export function cidrContains(cidr: string, address: string): boolean {
  const slash = cidr.indexOf('/');
  const net = ipValue(slash === -1 ? cidr : cidr.slice(0, slash));
  const ip = ipValue(address);
  if (!net || !ip || net.family !== ip.family) return false;
  const bits = net.family === 4 ? 32n : 128n;
  const prefix = slash === -1 ? bits : BigInt(cidr.slice(slash + 1));
  const shift = bits - prefix;
  return net.value >> shift === ip.value >> shift;
}
