// Authentication of the status listener: HTTP Basic, checked against a CredentialsProvider.
// Required for everything but /healthz as soon as the listener is not bound to loopback, so the
// page is never open to the network by accident (fabio #25, Bamboo #53).
//
// The file provider reads `user:$scrypt$N=16384,r=8,p=1$<salt>$<hash>` lines (base64, written by
// `paas-router passwd <user>`); `#` starts a comment. Passwords are never stored in clear on disk.
// A Vault provider only has to implement CredentialsProvider (see StaticCredentials).
import { createHmac, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { ConfigError, errorMessage } from '../errors.js';

export interface CredentialsProvider {
  /** Where the credentials come from, for logs and the status page (never the secrets). */
  readonly description: string;
  verify(user: string, password: string): Promise<boolean>;
}

const SCRYPT_PREFIX = '$scrypt$';
const KEY_LENGTH = 32;
const DEFAULT_PARAMS = { N: 16384, r: 8, p: 1 };

function scrypt(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))));
}

interface ScryptHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

/** Parses `$scrypt$N=..,r=..,p=..$salt$key`; undefined when it is not one. */
export function parseScryptHash(text: string): ScryptHash | undefined {
  if (!text.startsWith(SCRYPT_PREFIX)) return undefined;
  const [params, salt, key, ...rest] = text.slice(SCRYPT_PREFIX.length).split('$');
  if (!params || !salt || !key || rest.length > 0) return undefined;
  const values: Record<string, number> = {};
  for (const part of params.split(',')) {
    const m = /^(N|r|p)=(\d{1,8})$/.exec(part);
    if (!m) return undefined;
    values[m[1]!] = Number(m[2]);
  }
  const { N, r, p } = values;
  if (!N || !r || !p || (N & (N - 1)) !== 0 || N < 2 || N > 2 ** 20 || r > 32 || p > 16) return undefined;
  const saltBuf = Buffer.from(salt, 'base64');
  const keyBuf = Buffer.from(key, 'base64');
  if (saltBuf.length < 8 || keyBuf.length < 16) return undefined;
  return { N, r, p, salt: saltBuf, key: keyBuf };
}

function scryptOptions(h: Pick<ScryptHash, 'N' | 'r' | 'p'>): ScryptOptions {
  return { N: h.N, r: h.r, p: h.p, maxmem: 256 * h.N * h.r + 1024 * 1024 };
}

/** The hash line's right-hand side for `password` (a fresh random salt each time). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEY_LENGTH, scryptOptions(DEFAULT_PARAMS));
  const { N, r, p } = DEFAULT_PARAMS;
  return `${SCRYPT_PREFIX}N=${N},r=${r},p=${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyScrypt(password: string, hash: ScryptHash): Promise<boolean> {
  const key = await scrypt(password, hash.salt, hash.key.length, scryptOptions(hash));
  return timingSafeEqual(key, hash.key);
}

/** `user:hash` lines → user → hash. Errors name the file and line, never the hash. */
export function parseCredentialsFile(text: string, origin: string): Map<string, ScryptHash> {
  const users = new Map<string, ScryptHash>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${origin} line ${i + 1}`;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new ConfigError(`${where}: expected user:$scrypt$... (create lines with \`paas-router passwd <user>\`)`);
    const user = line.slice(0, colon);
    if (/[\s:]/.test(user)) throw new ConfigError(`${where}: a user name may not contain spaces or ":"`);
    const hash = parseScryptHash(line.slice(colon + 1).trim());
    if (!hash) {
      throw new ConfigError(
        `${where}: the password of "${user}" is not an scrypt hash ($scrypt$N=..,r=..,p=..$salt$key); plain-text passwords are not accepted, use \`paas-router passwd ${user}\``,
      );
    }
    if (users.has(user)) throw new ConfigError(`${where}: user "${user}" appears twice`);
    users.set(user, hash);
  });
  return users;
}

/**
 * Remembers successful checks (keyed by an HMAC under a per-process random key, so the cache
 * never holds a password) to spare a ~50 ms scrypt on every page refresh and scrape.
 */
class VerifiedCache {
  private readonly key = randomBytes(32);
  private readonly entries = new Set<string>();

  id(user: string, password: string): string {
    return createHmac('sha256', this.key).update(user).update('\0').update(password).digest('base64');
  }
  has(id: string): boolean {
    return this.entries.has(id);
  }
  add(id: string): void {
    if (this.entries.size >= 256) this.entries.clear();
    this.entries.add(id);
  }
  clear(): void {
    this.entries.clear();
  }
}

/** Credentials from a file, re-read whenever its mtime or size changes (no restart needed). */
export class FileCredentials implements CredentialsProvider {
  readonly description: string;
  private users: Map<string, ScryptHash> | undefined;
  private stamp = '';
  private readonly cache = new VerifiedCache();
  /** Compared against when the user is unknown, so timing does not tell which users exist. */
  private readonly dummy: ScryptHash = { ...DEFAULT_PARAMS, salt: randomBytes(16), key: randomBytes(KEY_LENGTH) };

  constructor(private readonly path: string) {
    this.description = `file ${path}`;
  }

  /** Reads the file now (at startup: a missing or malformed file is a config error). */
  async load(): Promise<void> {
    let text: string;
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(this.path);
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      throw new ConfigError(`listen_auth_file: cannot read ${this.path}: ${errorMessage(err)}`, { cause: err });
    }
    const users = parseCredentialsFile(text, this.path);
    if (users.size === 0) throw new ConfigError(`listen_auth_file: ${this.path} has no user`);
    this.users = users;
    this.stamp = `${st.mtimeMs}:${st.size}`;
    this.cache.clear();
  }

  private async refresh(): Promise<void> {
    try {
      const st = await stat(this.path);
      if (`${st.mtimeMs}:${st.size}` !== this.stamp) await this.load();
    } catch {
      // A broken edit keeps the last good credentials (and the error shows at the next restart).
    }
  }

  async verify(user: string, password: string): Promise<boolean> {
    await this.refresh();
    const id = this.cache.id(user, password);
    if (this.cache.has(id)) return true;
    const hash = this.users?.get(user);
    const ok = await verifyScrypt(password, hash ?? this.dummy);
    if (ok && hash) {
      this.cache.add(id);
      return true;
    }
    return false;
  }
}

/** Plain user → password pairs held in memory (e.g. read from Vault); compared in constant time. */
export class StaticCredentials implements CredentialsProvider {
  private readonly digests: Map<string, Buffer>;
  constructor(
    users: Record<string, string>,
    readonly description = 'static credentials',
  ) {
    this.digests = new Map(Object.entries(users).map(([u, p]) => [u, digest(p)]));
  }
  async verify(user: string, password: string): Promise<boolean> {
    const expected = this.digests.get(user);
    const given = digest(password);
    return timingSafeEqual(given, expected ?? digest(randomBytes(16).toString('hex'))) && expected !== undefined;
  }
}

function digest(text: string): Buffer {
  return createHmac('sha256', 'paas-router').update(text).digest();
}

/** Parses an `Authorization: Basic ...` header. */
export function parseBasicAuth(header: string | undefined): { user: string; password: string } | undefined {
  if (!header) return undefined;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** True for 127.0.0.0/8, ::1 (and its v4-mapped form) and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) !== 6) return false;
  // The URL parser writes IPv6 in its canonical compressed form (::ffff:127.0.0.1 → ::ffff:7f00:1).
  const canonical = new URL(`http://[${h}]/`).hostname;
  return canonical === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(canonical);
}

/**
 * The provider the listener needs, or a ConfigError when it would be open to the network:
 * off loopback a credentials file is mandatory; on loopback one is used when configured.
 */
export async function credentialsFor(listen: { host: string; port: number }, authFile: string): Promise<CredentialsProvider | undefined> {
  if (authFile) {
    const provider = new FileCredentials(authFile);
    await provider.load();
    return provider;
  }
  if (!isLoopbackHost(listen.host)) {
    throw new ConfigError(
      `listen: ${listen.host}:${listen.port} is not a loopback address, so the status page, /status and /metrics need ` +
        'credentials: set listen_auth_file (user:hash lines from `paas-router passwd <user>`), or listen on 127.0.0.1',
    );
  }
  return undefined;
}
