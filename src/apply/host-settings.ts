// Kernel settings HAProxy's reloads depend on, read once at start. From 3.1 the master only passes
// the serving worker's listening sockets (`-x`) to a new worker while that worker is the current
// one; after a reload HAProxy refuses, the next new worker binds sockets of its own beside the old
// ones (SO_REUSEPORT). If that worker exits too, the kernel resets the connections queued on its
// sockets, unless net.ipv4.tcp_migrate_req hands them to the sockets that stay (Linux 5.14+).
// Measured in docs/haproxy-versions.md ("A refused reload").
import { readFile } from 'node:fs/promises';
import { type HaproxyVersion, atLeast } from './haproxy-version.js';

export const MIGRATE_REQ_SYSCTL = '/proc/sys/net/ipv4/tcp_migrate_req';

/** The warning for this host, or undefined when nothing is missing. `read` is the sysctl file's reader. */
export async function reloadResetWarning(
  version: HaproxyVersion | undefined,
  read: (path: string) => Promise<string> = (path) => readFile(path, 'utf8'),
): Promise<string | undefined> {
  if (!version || !atLeast(version, '3.1')) return undefined;
  let value: string;
  try {
    value = (await read(MIGRATE_REQ_SYSCTL)).trim();
  } catch {
    return `HAProxy ${version.text} resets connections queued on a new worker's sockets when a reload after a refused one is refused too, and this kernel has no net.ipv4.tcp_migrate_req (Linux 5.14+) to move them (docs/haproxy-versions.md)`;
  }
  if (value !== '0') return undefined;
  return `net.ipv4.tcp_migrate_req is 0: with HAProxy ${version.text}, when a reload after a refused one is refused too, the kernel resets the connections queued on the new worker's sockets; set it to 1 (sysctl -w net.ipv4.tcp_migrate_req=1 and /etc/sysctl.d/, docs/haproxy-versions.md)`;
}
