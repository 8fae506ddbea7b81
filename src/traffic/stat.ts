// Pure parsing of HAProxy's `show stat` CSV (management guide §9.1): one line per proxy and per
// server, columns named by the "# pxname,svname,..." header, so new columns in later HAProxy
// versions never shift what is read. Only backends and servers are kept.
import { HaproxyAnswerError } from '../errors.js';
import { StringPool } from '../util/string-pool.js';

/** Counters and gauges of one backend (or `listen` proxy) as HAProxy counts them. */
export interface BackendStat {
  backend: string;
  /** HTTP requests (`req_tot`), or sessions (`stot`) where HAProxy counts no requests (tcp). */
  requests: number;
  responses: { '2xx': number; '3xx': number; '4xx': number; '5xx': number };
  /** Average response time over the last 1024 requests, ms (`rtime`). */
  responseMs: number;
  /** Current sessions (`scur`). */
  sessions: number;
  status: string;
  /** HAProxy's cache (router.cache): lookups (`cache_lookups`) and hits (`cache_hits`) since the worker started; 0 without a cache. */
  cache: { lookups: number; hits: number };
}

export interface ServerStat {
  backend: string;
  server: string;
  requests: number;
  /** UP, DOWN, MAINT, DRAIN, NOLB, "no check"... (`status`). */
  status: string;
  /** `check_status` (L7OK, L4CON, ...) and `check_desc`, empty without health checks. */
  check: { status: string; code: number | null; description: string };
}

export interface StatSample {
  backends: BackendStat[];
  servers: ServerStat[];
}

/** An app HAProxy serves from a spare backend until the next reload (apply/runtime/spares.ts). */
export interface SpareOfApp {
  spare: string;
  /** The app's own backend (`app_<name>`): what its series are keyed by. */
  backend: string;
}

/**
 * The sample with each spare serving an app counted as that app's own backend, so its series run
 * on across the consolidation reload. Once HAProxy has the app's own backend (the reload), the
 * spare is left as it is: its counters are no longer the app's.
 */
export function attributeSpares(sample: StatSample, spares: readonly SpareOfApp[]): StatSample {
  if (spares.length === 0) return sample;
  const own = new Set(sample.backends.map((b) => b.backend));
  const rename = new Map(spares.filter((s) => !own.has(s.backend)).map((s) => [s.spare, s.backend]));
  if (rename.size === 0) return sample;
  return {
    backends: sample.backends.map((b) => (rename.has(b.backend) ? { ...b, backend: rename.get(b.backend)! } : b)),
    servers: sample.servers.map((s) => (rename.has(s.backend) ? { ...s, backend: rename.get(s.backend)! } : s)),
  };
}

/** `show stat` restricted to backends (2) and servers (4): frontends are not per-app traffic. */
export const SHOW_STAT_COMMAND = 'show stat -1 6 -1';

/** Its name stays StatParseError (RouterError names errors after their class); its code is HAPROXY_BAD_ANSWER. */
export class StatParseError extends HaproxyAnswerError {}

/** The columns read, by their name in the header; the rest of each line is never split out. */
const COLUMNS = [
  'pxname',
  'svname',
  'scur',
  'stot',
  'status',
  'type',
  'hrsp_2xx',
  'hrsp_3xx',
  'hrsp_4xx',
  'hrsp_5xx',
  'req_tot',
  'rtime',
  'check_status',
  'check_code',
  'check_desc',
  'cache_lookups',
  'cache_hits',
] as const;
type Column = (typeof COLUMNS)[number];
/** Columns read as 0 when the answer has none (a hand-made CSV; every HAProxy since 2.4 has them). */
const OPTIONAL = new Set<Column>(['cache_lookups', 'cache_hits']);
type Row = Record<Column, string>;

/**
 * `show stat` parsed line by line as the answer arrives (push each chunk, then end()): an 11 MB
 * answer at 10 000 apps is never held whole, and the caller can yield to the event loop between
 * chunks. Only the columns above are sliced out of each line.
 */
export class ShowStatParser {
  private rest = '';
  /** COLUMNS position of each CSV column (-1 when not read); undefined before the header. */
  private slotOf: Int8Array | undefined;
  private last = 0;
  private ended = false;
  private readonly row = {} as Row;
  private readonly backends: BackendStat[] = [];
  private readonly servers: ServerStat[] = [];

  /**
   * `strings`: where the names and states kept from the answer come from (own copies, not slices
   * of the answer's chunks); the sampler passes one pool for every sample, so a name is one string.
   */
  constructor(private readonly strings: StringPool = new StringPool()) {}

  push(chunk: string): void {
    const text = this.rest + chunk;
    let from = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
      this.line(text.slice(from, nl));
      from = nl + 1;
    }
    this.rest = text.slice(from);
  }

  /** The sample; throws when the answer is not `show stat` or was cut short. */
  end(): StatSample {
    if (this.rest !== '') this.line(this.rest);
    this.rest = '';
    if (!this.slotOf) this.header('');
    // HAProxy ends every CLI answer with an empty line: without it the dump was cut short
    // (HAProxy reloading), and a sample missing apps would drop their history.
    if (!this.ended) throw new StatParseError('"show stat" answer cut short (no empty line at its end)');
    return { backends: this.backends, servers: this.servers };
  }

  private header(line: string): void {
    if (!/^# .*\bpxname,/.test(line)) throw new StatParseError(`not the CSV of "show stat": ${JSON.stringify(line.slice(0, 80))}`);
    const names = line.slice(2).split(',');
    const slotOf = new Int8Array(names.length).fill(-1);
    COLUMNS.forEach((name, k) => {
      const i = names.indexOf(name);
      if (i < 0 && OPTIONAL.has(name)) return;
      if (i < 0) throw new StatParseError(`"show stat" has no ${name} column`);
      slotOf[i] = k;
      this.last = Math.max(this.last, i);
    });
    this.slotOf = slotOf;
  }

  private line(line: string): void {
    if (!this.slotOf) {
      this.header(line);
      return;
    }
    if (line === '') {
      this.ended = true;
      return;
    }
    if (line.startsWith('#')) return;
    const f = this.fields(line);
    // 1 = backend, 2 = server (0 = frontend, 3 = listener). Every string kept is the pool's.
    const own = (s: string) => this.strings.get(s);
    if (f.type === '1') {
      this.backends.push({
        backend: own(f.pxname),
        requests: f.req_tot ? num(f.req_tot) : num(f.stot),
        responses: { '2xx': num(f.hrsp_2xx), '3xx': num(f.hrsp_3xx), '4xx': num(f.hrsp_4xx), '5xx': num(f.hrsp_5xx) },
        responseMs: num(f.rtime),
        sessions: num(f.scur),
        status: own(f.status),
        cache: { lookups: num(f.cache_lookups), hits: num(f.cache_hits) },
      });
    } else if (f.type === '2') {
      this.servers.push({
        backend: own(f.pxname),
        server: own(f.svname),
        requests: f.req_tot ? num(f.req_tot) : num(f.stot),
        status: own(f.status),
        check: { status: own(f.check_status.replace(/^\* /, '')), code: f.check_code ? num(f.check_code) : null, description: own(f.check_desc) },
      });
    }
  }

  /** The read columns of one line (reused object): commas walked up to the last column read. */
  private fields(line: string): Row {
    const slotOf = this.slotOf!;
    const row = this.row;
    for (const name of COLUMNS) row[name] = '';
    if (line.includes('"')) {
      splitQuoted(line).forEach((v, i) => {
        const k = slotOf[i] ?? -1;
        if (k >= 0) row[COLUMNS[k]!] = v;
      });
      return row;
    }
    let from = 0;
    for (let i = 0; i <= this.last; i++) {
      const comma = line.indexOf(',', from);
      const k = slotOf[i]!;
      if (k >= 0) row[COLUMNS[k]!] = comma < 0 ? line.slice(from) : line.slice(from, comma);
      if (comma < 0) break;
      from = comma + 1;
    }
    return row;
  }
}

/** A whole `show stat` answer at once (tests, the bench); the sampler streams it instead. */
export function parseShowStat(csv: string, strings?: StringPool): StatSample {
  const parser = new ShowStatParser(strings);
  parser.push(csv);
  return parser.end();
}

function num(v: string | undefined): number {
  if (!v) return 0;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n : 0;
}

/** CSV with quoted fields (HAProxy quotes a field holding a comma or a quote, doubling quotes). */
function splitQuoted(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}
