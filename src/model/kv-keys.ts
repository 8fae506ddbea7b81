// The one rule for K/V keys that name an app or a group (`<prefix><name>`): the name is exact.
// Consul ACLs grant exact keys, so `weights/SHOP` must not decide for `weights/shop`: a key that
// differs from a routed name only in case is rejected, never folded onto it.

export type KeyName =
  | { ok: true; name: string }
  /** `name` is the lowercase name the key would have meant, when it has one (for the reason's owner). */
  | { ok: false; name: string; reason: string }
  /** A Consul UI folder (an empty key ending in `/`): structure, not an entry. */
  | { folder: true };

export function nameOfKey(key: string, prefix: string, value: string, what = 'app'): KeyName {
  if (key.endsWith('/') && value === '') return { folder: true };
  if (!key.startsWith(prefix)) return { ok: false, name: '', reason: `key is not under the prefix ${prefix}` };
  const rest = key.slice(prefix.length);
  if (rest === '') return { ok: false, name: '', reason: `key names no ${what}: expected ${prefix}<${what}>` };
  const slash = rest.indexOf('/');
  if (slash !== -1) {
    return { ok: false, name: rest.slice(0, slash).toLowerCase(), reason: `nested key: expected ${prefix}<${what}> with no further "/"; ignored` };
  }
  // Checked before any case rule: U+212A KELVIN SIGN lowercases to an ASCII "k" (another app's key).
  if (/[^\x00-\x7f]/.test(rest)) return { ok: false, name: rest, reason: `key names an ${what} with non-ASCII characters; ignored` };
  const lower = rest.toLowerCase();
  if (lower !== rest) {
    return {
      ok: false,
      name: lower,
      reason: `keys are exact and ${what} names are lowercase: ${prefix}${rest} is not ${prefix}${lower}; ignored`,
    };
  }
  return { ok: true, name: rest };
}
