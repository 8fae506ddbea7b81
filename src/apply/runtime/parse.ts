// Reads back what the renderer produced, so the runtime path applies exactly what the files say:
// the server lines of each proxy, the rest of the config as a "skeleton", and the hosts map.
import type { RenderedFiles } from '../../render/types.js';

export const MAIN_CONFIG = 'haproxy.cfg';
export const HOSTS_MAP = 'hosts.map';

const SECTION = /^(global|defaults|frontend|backend|listen|userlist|peers|resolvers|program|cache|ring|http-errors|mailers)(\s+(\S+))?/;
const SERVER = /^\s+server\s+(\S+)\s+(\S+)(.*)$/;

export interface ServerLine {
  name: string;
  endpoint: string;
  /** Keywords after the address, without `disabled`. */
  args: string[];
  disabled: boolean;
}

export interface ParsedConfig {
  /** Every line but server lines, comments and blank lines: equal skeletons mean only servers differ. */
  skeleton: string;
  /** backend/listen name → server name → line. */
  proxies: Map<string, Map<string, ServerLine>>;
  /** backend/listen name → its `balance` algorithm, when set. */
  balance: Map<string, string>;
  /** Names of `listen` sections (tcp apps and the stats listener). */
  listens: Set<string>;
}

export function parseConfig(text: string): ParsedConfig {
  const skeleton: string[] = [];
  const proxies = new Map<string, Map<string, ServerLine>>();
  const balance = new Map<string, string>();
  const listens = new Set<string>();
  let proxy: Map<string, ServerLine> | undefined;
  let proxyName = '';
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const section = SECTION.exec(line);
    if (section) {
      proxy = undefined;
      if ((section[1] === 'backend' || section[1] === 'listen') && section[3]) {
        proxy = new Map();
        proxyName = section[3];
        proxies.set(proxyName, proxy);
        if (section[1] === 'listen') listens.add(proxyName);
      }
    }
    const algorithm = proxy ? /^balance\s+(\S+)/.exec(trimmed) : null;
    if (algorithm) balance.set(proxyName, algorithm[1]!);
    const server = proxy ? SERVER.exec(line) : null;
    if (proxy && server) {
      const words = server[3]!.trim().split(/\s+/).filter(Boolean);
      proxy.set(server[1]!, {
        name: server[1]!,
        endpoint: server[2]!,
        args: words.filter((w) => w !== 'disabled'),
        disabled: words.includes('disabled'),
      });
      continue;
    }
    skeleton.push(trimmed);
  }
  return { skeleton: skeleton.join('\n'), proxies, balance, listens };
}

/** `key value` per line; comments and blank lines skipped. */
export function parseMap(text: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const [key, ...value] = trimmed.split(/\s+/);
    entries.set(key!, value.join(' '));
  }
  return entries;
}

export interface ParsedFiles {
  config: ParsedConfig;
  hosts: Map<string, string>;
}

// The guard, the plan and the runtime executor all read the same candidate and the same running
// files: parse each set of files once (they are never mutated after rendering).
const parsed = new WeakMap<RenderedFiles, ParsedFiles>();

export function parseFiles(files: RenderedFiles): ParsedFiles {
  let result = parsed.get(files);
  if (!result) {
    result = { config: parseConfig(files[MAIN_CONFIG] ?? ''), hosts: parseMap(files[HOSTS_MAP] ?? '') };
    parsed.set(files, result);
  }
  return result;
}
