// FQDN validation and normalisation for custom domains. Shared by the model and `domains add`.
import { domainToASCII } from 'node:url';
import { CONTROL_RE, WHITESPACE_RE, safeText } from './text.js';

export const MAX_HOSTNAME = 253;
export const MAX_LABEL = 63;

export type FqdnResult = { ok: true; fqdn: string } | { ok: false; reason: string };

/**
 * Why `name` (already lowercase) is not a run of dot-separated RFC 1123 labels, or undefined.
 * Used for custom FQDNs and for service names (the left part of default hosts).
 */
export function labelsProblem(name: string): string | undefined {
  for (const label of name.split('.')) {
    if (label === '') return 'empty label (leading, trailing or consecutive dots)';
    const bad = /[^a-z0-9-]/.exec(label);
    if (bad) return `character "${safeText(bad[0])}" is not allowed in a host name (RFC 1123: a-z, 0-9, -)`;
    if (label.startsWith('-') || label.endsWith('-')) {
      return `label "${label}" starts or ends with a hyphen`;
    }
    if (label.length > MAX_LABEL) {
      return `label "${label.slice(0, 16)}..." is ${label.length} characters long (max ${MAX_LABEL})`;
    }
  }
  return undefined;
}

function punycodeHint(name: string): string {
  // domainToASCII is pure (IDNA mapping, no DNS): it lets the reason show the exact form to use.
  const ascii = domainToASCII(name);
  const usable = ascii !== '' && ascii !== name && validateFqdn(ascii).ok;
  return usable ? `non-ASCII characters: use the punycode (xn--) form "${ascii}"` : 'non-ASCII characters: use the punycode (xn--) form of the name';
}

/**
 * Validates one host name a user typed and returns its normal form (lowercase).
 * Strict on purpose: the result goes into hosts.map, crt-list and Vault paths.
 */
export function validateFqdn(raw: string): FqdnResult {
  const fail = (reason: string): FqdnResult => ({ ok: false, reason });
  if (raw === '') return fail('empty host name');
  if (WHITESPACE_RE.test(raw)) {
    return fail('contains whitespace (separate several host names with commas, spaces or newlines)');
  }
  if (CONTROL_RE.test(raw)) return fail('contains control characters');
  if (/[^\x00-\x7f]/.test(raw)) return fail(punycodeHint(raw));
  const name = raw.toLowerCase();
  if (name.includes('://')) return fail('looks like a URL: give the host name only, without scheme or path');
  if (name.includes('*')) return fail('wildcards (*) are not supported: claim each host name');
  if (/["'`]/.test(name)) return fail('quotes are not allowed');
  if (name.includes('#')) return fail('"#" is not allowed');
  if (name.includes(';')) return fail('";" is not allowed');
  if (name.includes('\\')) return fail('backslash is not allowed');
  if (name.includes('/')) return fail('a path is not allowed: give the host name only');
  if (name.includes(':')) return fail('a port is not allowed: give the host name only');
  if (name.endsWith('.')) return fail('trailing dot: write the name without the final "."');
  if (name.length > MAX_HOSTNAME) {
    return fail(`${name.length} characters long (max ${MAX_HOSTNAME})`);
  }
  const problem = labelsProblem(name);
  if (problem) return fail(problem);
  const labels = name.split('.');
  if (labels.length < 2) return fail('needs at least two labels, e.g. www.example.org');
  const tld = labels[labels.length - 1]!;
  if (/^[0-9]+$/.test(tld)) {
    return fail(`top-level label "${tld}" is all-numeric (IP addresses are not host names)`);
  }
  return { ok: true, fqdn: name };
}

/**
 * Splits a K/V value into host names: any run of commas and whitespace separates them.
 * Valid names come back normalised and deduplicated in order of appearance; every bad one
 * is returned with its reason (once), and never affects the others.
 */
export function parseDomainValue(value: string): {
  fqdns: string[];
  rejected: { fqdn: string; reason: string }[];
} {
  const fqdns: string[] = [];
  const rejected: { fqdn: string; reason: string }[] = [];
  const seen = new Set<string>();
  for (const token of value.split(/[,\s]+/)) {
    if (token === '') continue;
    const result = validateFqdn(token);
    const id = result.ok ? result.fqdn : `\0${token}`;
    if (seen.has(id)) continue;
    seen.add(id);
    if (result.ok) fqdns.push(result.fqdn);
    else rejected.push({ fqdn: token, reason: result.reason });
  }
  return { fqdns, rejected };
}

/** True when `host` is `domain` itself or any name under it. */
export function isUnderDomain(host: string, domain: string): boolean {
  return host === domain || host.endsWith(`.${domain}`);
}
