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

/**
 * One backend (type 1) or server (type 2) line of `show stat`, as the parser hands it to its sink.
 * The parser reuses this object for every line, and its strings are slices of the answer: a sink
 * copies what it keeps (a StringPool), so no name keeps a chunk of the answer alive.
 */
export interface StatRow {
  type: 1 | 2;
  backend: string;
  /** The server's name; '' on a backend line. */
  server: string;
  /** HTTP requests (`req_tot`), or sessions (`stot`) where HAProxy counts no requests (tcp). */
  requests: number;
  responses: BackendStat['responses'];
  responseMs: number;
  sessions: number;
  status: string;
  /** `check_status` without HAProxy's "* " (check in progress), `check_code` (null when empty), `check_desc`. */
  checkStatus: string;
  checkCode: number | null;
  /** HAProxy's "* ": a check is under way, and `check_code` is that check's (0 until it ends), not the last result's. */
  checkInProgress: boolean;
  checkDescription: string;
  cacheLookups: number;
  cacheHits: number;
}

/** A row to fill (a parser's, reused for every line). */
export function emptyRow(): StatRow {
  return {
    type: 1,
    backend: '',
    server: '',
    requests: 0,
    responses: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
    responseMs: 0,
    sessions: 0,
    status: '',
    checkStatus: '',
    checkCode: null,
    checkInProgress: false,
    checkDescription: '',
    cacheLookups: 0,
    cacheHits: 0,
  };
}

/** Where the parser puts each backend and server line (the traffic ring, or a SampleCollector). */
export interface StatSink {
  row(row: Readonly<StatRow>): void;
}

/** A sink that collects the lines as a StatSample of their own objects (tests, benches, parseShowStat). */
export class SampleCollector implements StatSink {
  readonly sample: StatSample = { backends: [], servers: [] };

  constructor(private readonly strings: StringPool = new StringPool()) {}

  row(r: Readonly<StatRow>): void {
    const own = (s: string) => this.strings.get(s);
    if (r.type === 1) {
      this.sample.backends.push({
        backend: own(r.backend),
        requests: r.requests,
        responses: { ...r.responses },
        responseMs: r.responseMs,
        sessions: r.sessions,
        status: own(r.status),
        cache: { lookups: r.cacheLookups, hits: r.cacheHits },
      });
    } else {
      this.sample.servers.push({
        backend: own(r.backend),
        server: own(r.server),
        requests: r.requests,
        status: own(r.status),
        // A check under way: its code is not the last result's, and a collector has no last sample.
        check: { status: own(r.checkStatus), code: r.checkInProgress ? null : r.checkCode, description: own(r.checkDescription) },
      });
    }
  }
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
/** COLUMNS position of each column. */
const C = Object.fromEntries(COLUMNS.map((name, k) => [name, k])) as Record<Column, number>;

/**
 * `show stat` parsed line by line as the answer arrives (push each chunk, then end()), each
 * backend and server line handed to the sink: an 11 MB answer at 10 000 apps is never held whole,
 * and the caller can yield to the event loop between chunks. Nothing is allocated per line but the
 * strings the line's kind needs (names, states): the fields are offsets into the chunk and the
 * counters are read from its characters, so a sample makes little garbage (docs/benchmarks.md).
 */
export class ShowStatParser {
  private rest = '';
  /** COLUMNS position of each CSV column (-1 when not read); undefined before the header. */
  private slotOf: Int8Array | undefined;
  private last = 0;
  private ended = false;
  /** The line being read: its text, and where each read column starts and ends in it. */
  private text = '';
  private readonly starts = new Int32Array(COLUMNS.length);
  private readonly ends = new Int32Array(COLUMNS.length);
  /** The fields of a line with quotes (rare: a check description holding a comma), unquoted. */
  private quoted: string[] | undefined;
  private readonly row = emptyRow();

  constructor(private readonly sink: StatSink) {}

  push(chunk: string): void {
    let from = 0;
    let nl = chunk.indexOf('\n');
    if (this.rest !== '') {
      if (nl < 0) {
        this.rest += chunk;
        return;
      }
      const line = this.rest + chunk.slice(0, nl);
      this.rest = '';
      this.line(line, 0, line.length);
      from = nl + 1;
      nl = chunk.indexOf('\n', from);
    }
    for (; nl >= 0; nl = chunk.indexOf('\n', from)) {
      this.line(chunk, from, nl);
      from = nl + 1;
    }
    this.rest = chunk.slice(from);
    this.text = '';
  }

  /** Throws when the answer is not `show stat` or was cut short (the sink has then seen part of it). */
  end(): void {
    if (this.rest !== '') this.line(this.rest, 0, this.rest.length);
    this.rest = '';
    this.text = '';
    if (!this.slotOf) this.header('');
    // HAProxy ends every CLI answer with an empty line: without it the dump was cut short
    // (HAProxy reloading), and a sample missing apps would drop their history.
    if (!this.ended) throw new StatParseError('"show stat" answer cut short (no empty line at its end)');
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

  /** The line text[start, end). */
  private line(text: string, start: number, end: number): void {
    if (!this.slotOf) {
      this.header(text.slice(start, end));
      return;
    }
    if (start === end) {
      this.ended = true;
      return;
    }
    if (text.charCodeAt(start) === HASH) return;
    this.fields(text, start, end);
    // 1 = backend, 2 = server (0 = frontend, 3 = listener).
    const type = this.number(C.type);
    if (type !== 1 && type !== 2) return;
    const r = this.row;
    r.type = type as 1 | 2;
    r.backend = this.string(C.pxname);
    r.requests = this.isEmpty(C.req_tot) ? this.number(C.stot) : this.number(C.req_tot);
    r.status = this.string(C.status);
    if (type === 1) {
      r.server = '';
      r.responses['2xx'] = this.number(C.hrsp_2xx);
      r.responses['3xx'] = this.number(C.hrsp_3xx);
      r.responses['4xx'] = this.number(C.hrsp_4xx);
      r.responses['5xx'] = this.number(C.hrsp_5xx);
      r.responseMs = this.number(C.rtime);
      r.sessions = this.number(C.scur);
      r.cacheLookups = this.number(C.cache_lookups);
      r.cacheHits = this.number(C.cache_hits);
      r.checkStatus = '';
      r.checkCode = null;
      r.checkInProgress = false;
      r.checkDescription = '';
    } else {
      r.server = this.string(C.svname);
      const check = this.string(C.check_status);
      r.checkInProgress = check.startsWith('* ');
      r.checkStatus = r.checkInProgress ? check.slice(2) : check;
      r.checkCode = this.isEmpty(C.check_code) ? null : this.number(C.check_code);
      r.checkDescription = this.string(C.check_desc);
    }
    this.sink.row(r);
  }

  /** Where each read column of text[start, end) starts and ends: commas walked up to the last column read. */
  private fields(text: string, start: number, end: number): void {
    const slotOf = this.slotOf!;
    this.starts.fill(0);
    this.ends.fill(0);
    const quote = text.indexOf('"', start);
    if (quote >= 0 && quote < end) {
      this.quoted = splitQuoted(text.slice(start, end));
      return;
    }
    this.quoted = undefined;
    this.text = text;
    let from = start;
    for (let i = 0; i <= this.last; i++) {
      const found = text.indexOf(',', from);
      const comma = found < 0 || found > end ? end : found;
      const k = slotOf[i]!;
      if (k >= 0) {
        this.starts[k] = from;
        this.ends[k] = comma;
      }
      if (comma === end) break;
      from = comma + 1;
    }
  }

  private quotedField(k: number): string {
    const i = this.slotOf!.indexOf(k);
    return (i >= 0 && this.quoted![i]) || '';
  }

  private isEmpty(k: number): boolean {
    return this.quoted ? this.quotedField(k) === '' : this.starts[k] === this.ends[k];
  }

  private string(k: number): string {
    return this.quoted ? this.quotedField(k) : this.text.slice(this.starts[k]!, this.ends[k]!);
  }

  /** A counter: digits read in place; anything else as Number() reads it; not a count (NaN, negative) is 0. */
  private number(k: number): number {
    if (this.quoted) return num(this.quotedField(k));
    const text = this.text;
    const start = this.starts[k]!;
    const end = this.ends[k]!;
    if (end - start > 15) return num(text.slice(start, end));
    let n = 0;
    for (let i = start; i < end; i++) {
      const digit = text.charCodeAt(i) - ZERO;
      if (digit < 0 || digit > 9) return num(text.slice(start, end));
      n = n * 10 + digit;
    }
    return n;
  }
}

const HASH = 35;
const ZERO = 48;

/** A whole `show stat` answer at once (tests, the bench); the sampler streams it into the ring. */
export function parseShowStat(csv: string, strings?: StringPool): StatSample {
  const collector = new SampleCollector(strings);
  const parser = new ShowStatParser(collector);
  parser.push(csv);
  parser.end();
  return collector.sample;
}

function num(v: string): number {
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
