// CIDR blocks (`10.0.0.0/8`, `fd00::/8`) and bare addresses, as HAProxy's `src` ACL takes them.
import { isIP } from 'node:net';

/** Why `value` is not an IPv4/IPv6 address or CIDR block, or undefined when it is one. */
export function cidrProblem(value: string): string | undefined {
  const slash = value.indexOf('/');
  const address = slash === -1 ? value : value.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return `${JSON.stringify(value)} is not an IP address or CIDR block (e.g. 10.0.0.0/8, fd00::/8)`;
  if (slash === -1) return undefined;
  const prefix = value.slice(slash + 1);
  const max = family === 4 ? 32 : 128;
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefix) || Number(prefix) > max) {
    return `${JSON.stringify(value)}: the prefix length must be 0-${max}`;
  }
  return undefined;
}
