// The change timeline of the status page: a bounded list of what changed and when (applies at
// runtime or by reload with their reason, refusals, held changes, new rejections, certificate
// events), each naming the apps it touched so the page can filter by app. Follows the runner's
// events like the metrics do; the diffs it needs are pure functions below.
import type { ApplyReport } from '../apply/applier.js';
import type { CertificateSyncReport } from '../apply/runtime/certificates.js';
import type { TlsStatus } from '../render/certificates.js';
import { cmp } from '../model/text.js';
import type { AppRoute, Rejection, RoutingModel } from '../model/types.js';
import type { Runner } from '../runner.js';
import type { HeldChange } from '../state.js';

export type TimelineKind =
  | 'runtime'
  | 'reload'
  | 'haproxy-unreachable'
  | 'refused'
  | 'reload-failed'
  | 'write-failed'
  | 'held'
  | 'rejection'
  | 'certificate'
  | 'build-error';

export interface TimelineEvent {
  at: number;
  kind: TimelineKind;
  /** Apps the event touched; empty when it is about the whole router. */
  apps: string[];
  message: string;
}

/** Rejections listed one by one per build; more become one summary event. */
const REJECTIONS_PER_BUILD = 20;
/** Brand-new apps served from spare backends until the next reload (named first, the spare after). */
function onSpares(report: ApplyReport): string {
  const claims = report.spares ?? [];
  return claims.length === 0 ? '' : `; on spare backends until the next reload: ${claims.map((c) => `${c.app} (${c.spare})`).join(', ')}`;
}

/** Apps named per event; the message says how many more. */
const APPS_PER_EVENT = 50;
/** Characters of one event's message. */
export const MESSAGE_MAX = 400;

export class Timeline {
  private readonly events: TimelineEvent[] = [];
  private runner: Runner | undefined;
  private model: RoutingModel | undefined;
  private rejections = new Set<string>();
  private tls: TlsStatus | undefined;
  /** The last apply wrote files HAProxy has not loaded yet (the next reload loads them). */
  private written: string[] | false = false;
  private readonly listeners = {
    applied: (r: ApplyReport) => this.onApplied(r),
    held: (h: HeldChange) => this.onHeld(h),
    certificates: (c: CertificateSyncReport) => this.onCertificates(c),
    buildError: (err: unknown) =>
      this.add('build-error', [], `the build failed; the running configuration stays: ${err instanceof Error ? err.message : String(err)}`),
  };

  constructor(private readonly opts: { capacity?: number; now?: () => number } = {}) {}

  /** Newest first. */
  list(app?: string): TimelineEvent[] {
    const out = app ? this.events.filter((e) => e.apps.includes(app)) : this.events.slice();
    return out.reverse();
  }

  attach(runner: Runner): void {
    this.detach();
    this.runner = runner;
    this.model = runner.state.deployment?.model;
    runner.on('applied', this.listeners.applied);
    runner.on('held', this.listeners.held);
    runner.on('certificates', this.listeners.certificates);
    runner.on('build-error', this.listeners.buildError);
  }

  detach(): void {
    const r = this.runner;
    if (!r) return;
    r.off('applied', this.listeners.applied);
    r.off('held', this.listeners.held);
    r.off('certificates', this.listeners.certificates);
    r.off('build-error', this.listeners.buildError);
    this.runner = undefined;
  }

  add(kind: TimelineKind, apps: string[], message: string): void {
    const more = apps.length > APPS_PER_EVENT ? ` (${apps.length} apps)` : '';
    // Tenant text (a tag, a 1 KB maintenance message) stays short: 500 events are in every /status.
    const text = message.length > MESSAGE_MAX ? `${message.slice(0, MESSAGE_MAX)}…` : message;
    this.events.push({ at: (this.opts.now ?? Date.now)(), kind, apps: apps.slice(0, APPS_PER_EVENT), message: text + more });
    const capacity = this.opts.capacity ?? 500;
    if (this.events.length > capacity) this.events.splice(0, this.events.length - capacity);
  }

  private onApplied(report: ApplyReport): void {
    const state = this.runner?.state;
    if (!state) return;
    this.noteRejections(state.builtModel?.rejections ?? []);
    this.noteTls(state.tls);
    const error = report.error?.message ?? '';
    switch (report.status) {
      case 'runtime':
      case 'reloaded':
      case 'haproxy-unreachable': {
        let changed = changedApps(this.model, state.deployment?.model);
        this.model = state.deployment?.model;
        const wasWritten = this.written;
        // A reload that loads files written earlier brings their apps live only now.
        if (wasWritten && report.status !== 'haproxy-unreachable') changed = [...new Set([...wasWritten, ...changed])].sort();
        this.written = report.status === 'haproxy-unreachable' ? [...new Set([...(this.written || []), ...changed])] : false;
        if (report.status === 'runtime')
          this.add(
            'runtime',
            changed,
            `applied through the runtime API, no reload: ${report.runtimeOps ?? 0} command(s) — ${describe(changed)}${onSpares(report)}`,
          );
        else if (report.status === 'reloaded') {
          const reason = report.reloadReason ?? (wasWritten ? 'loads the files written while HAProxy was not reachable' : undefined);
          this.add('reload', changed, `HAProxy reloaded${reason ? ` (${reason})` : ''} — ${describe(changed)}`);
        } else this.add('haproxy-unreachable', changed, `written to disk, HAProxy not reachable: it loads the files when it answers — ${describe(changed)}`);
        break;
      }
      case 'refused':
        this.add('refused', [], `candidate configuration refused by haproxy -c; the last good one keeps running: ${error}`);
        break;
      case 'reload-failed':
        this.add('reload-failed', [], `HAProxy did not complete the reload; the previous configuration keeps running: ${error}`);
        break;
      case 'write-failed':
        this.add('write-failed', [], `the configuration could not be written: ${error}`);
        break;
      case 'unchanged':
        // HAProxy runs the same bytes, now described by the latest model: the older one is let go
        // (at 10 000 apps, a whole model kept beside the latest until the next change).
        this.model = state.deployment?.model;
        break;
      default:
        break;
    }
  }

  private onHeld(held: HeldChange): void {
    const state = this.runner?.state;
    const built = state?.builtModel;
    const lost = built ? changedApps(state.deployment?.model, built).filter((a) => !built.apps.some((x) => x.name === a)) : [];
    this.noteRejections(built?.rejections ?? []);
    this.add(
      'held',
      lost,
      `change held by the never-shrink guard (${held.reason}): routes ${held.routesBefore} → ${held.routesAfter}; the current routes keep serving until a fresh read confirms it`,
    );
  }

  private onCertificates(sync: CertificateSyncReport): void {
    this.noteTls(this.runner?.state.tls);
    if (sync.status === 'updated') this.add('certificate', [], `certificates updated through the runtime API: ${sync.ops.join(', ')}`);
    else if (sync.status === 'needs-reload')
      this.add('certificate', [], `certificates need a reload (${sync.reason ?? 'the runtime API cannot make this change'}): ${sync.ops.join(', ')}`);
    else if (sync.status === 'unreachable')
      this.add('certificate', [], `certificates could not be applied to the running HAProxy: ${sync.error ?? 'the runtime API did not answer'}`);
  }

  private noteRejections(list: readonly Rejection[]): void {
    const now = new Set<string>();
    const fresh: Rejection[] = [];
    for (const r of list) {
      const key = `${r.kind}\0${r.service}\0${r.subject}\0${r.reason}`;
      now.add(key);
      if (!this.rejections.has(key)) fresh.push(r);
    }
    this.rejections = now;
    for (const r of fresh.slice(0, REJECTIONS_PER_BUILD))
      this.add('rejection', [r.service], `rejected ${r.kind} input ${JSON.stringify(r.subject)} of ${r.service}: ${r.reason}`);
    if (fresh.length > REJECTIONS_PER_BUILD) this.add('rejection', [], `${fresh.length - REJECTIONS_PER_BUILD} more inputs rejected (see Rejected inputs)`);
  }

  private noteTls(tls: TlsStatus | undefined): void {
    if (!tls) return;
    const before = this.tls;
    this.tls = tls;
    const seen = new Set((before?.rejected ?? []).map((r) => r.name));
    for (const r of tls.rejected) if (!seen.has(r.name)) this.add('certificate', [], `certificate tls/${r.name} in Vault is not used: ${r.reason}`);
    const expired = new Set((before?.certificates ?? []).filter((c) => c.expired).map((c) => c.sha256));
    for (const c of tls.certificates)
      if (c.expired && !expired.has(c.sha256)) this.add('certificate', [], `certificate tls/${c.name} has expired (${c.notAfter})`);
    const known = new Set((before?.certificates ?? []).map((c) => c.sha256));
    if (before)
      for (const c of tls.certificates)
        if (!known.has(c.sha256)) this.add('certificate', [], `certificate tls/${c.name} now in use (${c.names.join(' ')}, until ${c.notAfter})`);
  }
}

/** The last answer of changedApps per `before` model: the apply's log line and the timeline ask the same. */
const lastChanged = new WeakMap<RoutingModel, { after: RoutingModel | undefined; apps: string[] }>();

/**
 * Apps added, removed or changed between two models (same object = unchanged, cheap). The answer
 * is kept for the pair (the apply's log line and the timeline both ask). A model's apps are sorted
 * by name, so one walk over both lists finds them: at 10 000 apps, indexing both models per build
 * blocked the event loop for tens of milliseconds. An app's hosts are part of the app (its `hosts`),
 * so a host added or moved changes its app.
 */
export function changedApps(before: RoutingModel | undefined, after: RoutingModel | undefined): string[] {
  if (before === after) return [];
  const kept = before && lastChanged.get(before);
  if (kept && kept.after === after) return [...kept.apps];
  const was = before?.apps ?? [];
  const now = after?.apps ?? [];
  const out: string[] = [];
  for (let i = 0, j = 0; i < was.length || j < now.length; ) {
    const a = was[i];
    const b = now[j];
    const order = a === undefined ? 1 : b === undefined ? -1 : cmp(a.name, b.name);
    if (order === 0) {
      if (!sameApp(a!, b!)) out.push(b!.name);
      i++;
      j++;
    } else if (order < 0) {
      out.push(a!.name);
      i++;
    } else {
      out.push(b!.name);
      j++;
    }
  }
  out.sort();
  if (before) lastChanged.set(before, { after, apps: out });
  return [...out];
}

function sameApp(was: AppRoute, app: AppRoute): boolean {
  return was === app || JSON.stringify(was) === JSON.stringify(app);
}

function describe(apps: string[]): string {
  if (apps.length === 0) return 'no app changed since the last change (settings, templates, or files written before)';
  const shown = apps.slice(0, 5).join(', ');
  return `${apps.length} app(s): ${shown}${apps.length > 5 ? ', …' : ''}`;
}
