// HAProxy configuration syntax: the checks every value passes before it is printed into a config
// line (names, durations, paths, ports, addresses), its escaping of one word, and the stable
// cookie of a sticky server. A value that cannot be printed safely throws a TemplateError.
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { posix } from 'node:path';

import { TemplateError } from '../errors.js';

export function fail(message: string): never {
  throw new TemplateError(`cannot render: ${message}`);
}

/** Plain code-unit order: deterministic whatever the locale (localeCompare is not). */
export function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// Conservative character classes for values printed unquoted into haproxy.cfg / hosts.map.
export const NAME = /^[a-z0-9][a-z0-9_.-]*$/;

export const SERVER_NAME = /^[A-Za-z0-9_.:-]+$/;

export const HOSTNAME = /^[a-z0-9][a-z0-9_.-]*$/;

export const DURATION = /^[0-9]+(us|ms|s|m|h|d)?$/;

export const BALANCE = /^[a-z][a-z0-9_(),.-]*( [a-z0-9_(),.-]+)*$/;

// An HTTP path: visible ASCII, none of the config parser's specials (# ' " \) and no `%[`
// (not interpreted by http-check, but kept out so the value means the same everywhere).
export const HTTP_PATH = /^\/[!$%&()*+,\-./0-9:;<=>?@A-Z[\]^_`a-z{|}~]*$/;

const ABSOLUTE_PATH = /^\/[A-Za-z0-9_./-]*$/;

export function checkPort(port: unknown, what: string): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    fail(`${what} must be a port number 1-65535, got ${JSON.stringify(port)}`);
  }
  return port;
}

export function checkMatch(value: unknown, re: RegExp, what: string): string {
  if (typeof value !== 'string' || !re.test(value)) {
    fail(`${what} has characters HAProxy cannot take unquoted: ${JSON.stringify(value)}`);
  }
  return value;
}

export function checkPath(value: unknown, what: string): string {
  const path = checkMatch(value, ABSOLUTE_PATH, what);
  if (posix.normalize(path) !== path) fail(`${what} must be a normalised absolute path: ${JSON.stringify(path)}`);
  return path;
}

/** Strip the brackets of `[::1]`. */
function unbracket(address: string): string {
  return address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
}

/**
 * A `bind` argument. `*` → `*:80`; IPv4 → `10.0.0.1:80`; IPv6 (with or without brackets) →
 * `ipv6@::1:80` (HAProxy takes the port after the last colon; the prefix forces the family).
 */
export function formatBind(bindAddress: string, port: number): string {
  checkPort(port, 'bind port');
  if (bindAddress === '*') return `*:${port}`;
  const address = unbracket(bindAddress);
  switch (isIP(address)) {
    case 4:
      return `${address}:${port}`;
    case 6:
      // `::` means every address: `v4v6` takes IPv4 too, whatever net.ipv6.bindv6only says.
      return address === '::' ? `ipv6@:::${port} v4v6` : `ipv6@${address}:${port}`;
    default:
      return fail(`bind address must be "*" or an IP address, got ${JSON.stringify(bindAddress)}`);
  }
}

/** A server address: IPv4, IPv6 (as `ipv6@addr:port`) or a host name resolved by HAProxy. */
export function formatEndpoint(address: string, port: number, what = 'server address'): string {
  checkPort(port, `${what} port`);
  const bare = unbracket(address);
  switch (isIP(bare)) {
    case 4:
      return `${bare}:${port}`;
    case 6:
      return `ipv6@${bare}:${port}`;
    default:
      return `${checkMatch(address.toLowerCase(), HOSTNAME, what)}:${port}`;
  }
}

/**
 * Cookie value identifying one server of a sticky backend: the first 16 hex digits of
 * SHA-256(`<backend>/<server>`). Stable across renders and reloads, and it does not reveal the
 * instance's address to clients. Runtime `add server` must use the same value.
 */
export function serverCookie(backend: string, serverName: string): string {
  // The first 8 bytes in hex: a string of its own (a slice of the whole digest's hex keeps it alive).
  return createHash('sha256').update(`${backend}/${serverName}`).digest().toString('hex', 0, 8);
}

/**
 * Escape a value so that HAProxy's config parser reads it back as exactly one word with the same
 * bytes (configuration manual §2.2, "Quoting and escaping", unquoted column): space, `#`, quotes
 * and backslash get a backslash; other control characters, and every byte of a non-ASCII
 * character's UTF-8 form, become `\xNN` (same bytes, but the line stays printable ASCII). `$` is
 * literal outside double quotes. NUL and the empty string cannot be represented and throw.
 */
export function escapeConfigWord(value: string, what: string): string {
  if (value === '') fail(`${what} is empty`);
  let out = '';
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (code === 0) fail(`${what} contains a NUL character`);
    if (ch === ' ' || ch === '#' || ch === '\\' || ch === "'" || ch === '"') out += `\\${ch}`;
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (code > 0x7f) for (const byte of Buffer.from(ch)) out += `\\x${byte.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out;
}

export function nonNegativeInteger(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) fail(`${what} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return value;
}
