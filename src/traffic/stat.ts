// Pure parsing of HAProxy's `show stat` CSV (management guide §9.1): one line per proxy and per
// server, columns named by the "# pxname,svname,..." header, so new columns in later HAProxy
// versions never shift what is read. Only backends and servers are kept.

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

/** `show stat` restricted to backends (2) and servers (4): frontends are not per-app traffic. */
export const SHOW_STAT_COMMAND = 'show stat -1 6 -1';

export class StatParseError extends Error {
  override name = 'StatParseError';
}

export function parseShowStat(csv: string): StatSample {
  const lines = csv.split('\n');
  const header = lines[0] ?? '';
  if (!/^# .*\bpxname,/.test(header)) {
    throw new StatParseError(`not the CSV of "show stat": ${JSON.stringify(header.slice(0, 80))}`);
  }
  const columns = header.slice(2).split(',');
  const at = (name: string): number => {
    const i = columns.indexOf(name);
    if (i < 0) throw new StatParseError(`"show stat" has no ${name} column`);
    return i;
  };
  const col = {
    px: at('pxname'),
    sv: at('svname'),
    scur: at('scur'),
    stot: at('stot'),
    status: at('status'),
    type: at('type'),
    h2: at('hrsp_2xx'),
    h3: at('hrsp_3xx'),
    h4: at('hrsp_4xx'),
    h5: at('hrsp_5xx'),
    reqTot: at('req_tot'),
    rtime: at('rtime'),
    checkStatus: at('check_status'),
    checkCode: at('check_code'),
    checkDesc: at('check_desc'),
  };
  const backends: BackendStat[] = [];
  const servers: ServerStat[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '' || line.startsWith('#')) continue;
    const f = line.includes('"') ? splitQuoted(line) : line.split(',');
    const type = f[col.type];
    // 1 = backend, 2 = server (0 = frontend, 3 = listener).
    if (type === '1') {
      const reqTot = f[col.reqTot];
      backends.push({
        backend: f[col.px]!,
        requests: reqTot ? num(reqTot) : num(f[col.stot]),
        responses: { '2xx': num(f[col.h2]), '3xx': num(f[col.h3]), '4xx': num(f[col.h4]), '5xx': num(f[col.h5]) },
        responseMs: num(f[col.rtime]),
        sessions: num(f[col.scur]),
        status: f[col.status] ?? '',
      });
    } else if (type === '2') {
      const reqTot = f[col.reqTot];
      const code = f[col.checkCode];
      servers.push({
        backend: f[col.px]!,
        server: f[col.sv]!,
        requests: reqTot ? num(reqTot) : num(f[col.stot]),
        status: f[col.status] ?? '',
        check: { status: (f[col.checkStatus] ?? '').replace(/^\* /, ''), code: code ? num(code) : null, description: f[col.checkDesc] ?? '' },
      });
    }
  }
  return { backends, servers };
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
