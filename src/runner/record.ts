// What an apply report means for the daemon's state (counters, timestamps) and its log. What
// HAProxy runs is the applier's Deployment, not recorded here. One place, whichever path produced the report (a build, the retry loop, a certificate
// reload, the undo of a runtime change).
import type { ApplyReport } from '../apply/applier.js';
import type { Logger } from '../log.js';
import type { RoutingModel } from '../model/types.js';
import { changedApps } from '../server/timeline.js';
import type { RouterState } from '../state.js';

/** App names quoted in an apply's log line; the rest are counted (a start at 10 000 apps is one line). */
export const APPS_NAMED = 5;

/** Statuses after which the live files are the candidate's (HAProxy runs them, or loads them when it answers). */
const LIVE = new Set<ApplyReport['status']>(['runtime', 'reloaded', 'haproxy-unreachable']);

/**
 * Records `report`: `before` is the model of what ran before it, `model` of what runs after it
 * (the deployments' models; undefined for files adopted from disk).
 */
export function recordApply(
  state: RouterState,
  log: Logger,
  report: ApplyReport,
  before: RoutingModel | undefined,
  model: RoutingModel | undefined,
  at = Date.now(),
): void {
  state.lastApply = { ...report, at };
  // What changed for HAProxy, as a count and the first names (fields of the one line): never a line per app.
  const changed = LIVE.has(report.status) ? changedApps(before, model) : [];
  const apps = { changed: changed.length, first: changed.slice(0, APPS_NAMED) };
  switch (report.status) {
    case 'unchanged':
      log.debug({ checksum: report.checksum }, 'configuration unchanged');
      break;
    case 'already-refused':
      log.debug({ checksum: report.checksum }, 'candidate refused before; not tried again until the input changes');
      break;
    case 'runtime':
      state.counters.runtimeChanges += 1;
      state.lastRuntimeChangeAt = at;
      log.info(
        { checksum: report.checksum, ops: report.runtimeOps, runtimeMs: report.runtimeMs, writeMs: report.writeMs, profile: report.profile, apps },
        'configuration applied through the runtime API, no reload',
      );
      break;
    case 'reloaded':
      countReload(state, at);
      log.info(
        {
          checksum: report.checksum,
          validateMs: report.validateMs,
          reloadMs: report.reloadMs,
          reason: report.reloadReason,
          apps: { ...apps, total: model?.apps.length },
          profile: report.profile,
        },
        'configuration applied, HAProxy reloaded',
      );
      break;
    case 'haproxy-unreachable':
      // Before HAProxy ever ran a configuration of ours (a new node, the dev cluster) this is the
      // normal start: HAProxy loads the files when it starts. Afterwards it means HAProxy went away.
      if (state.lastReloadAt === undefined && state.lastRuntimeChangeAt === undefined) {
        log.info({ reason: report.error?.message, apps }, 'configuration validated and written; HAProxy is not running yet and loads it when it starts');
      } else log.warn({ error: report.error?.message, apps }, 'configuration written; HAProxy not reachable, will reload when it answers');
      break;
    case 'refused':
      state.counters.refusedConfigs += 1;
      log.error(
        { error: report.error?.message, output: report.error?.output },
        'candidate configuration refused by haproxy -c; the last good configuration stays',
      );
      break;
    default:
      if (report.status === 'reload-failed') state.counters.reloadFailures += 1;
      log.error({ status: report.status, error: report.error?.message }, 'configuration not applied; the last good configuration stays');
  }
  if (report.undo) {
    if (report.undo.status === 'reloaded') countReload(state, at);
    else if (report.undo.status === 'reload-failed') state.counters.reloadFailures += 1;
  }
}

function countReload(state: RouterState, at: number): void {
  state.counters.reloads += 1;
  state.lastReloadAt = at;
}

/** Brand-new apps served from spare backends: a line each for a few, else one counted line. */
export function logSpareClaims(log: Logger, claims: readonly { app: string; spare: string; backend: string }[]): void {
  if (claims.length > APPS_NAMED) {
    const first = claims.slice(0, APPS_NAMED).map((c) => `${c.app} (${c.spare})`);
    log.info(
      { apps: claims.length, first: claims.slice(0, APPS_NAMED) },
      `${claims.length} apps are served from spare backends (no reload) until the next reload gives them their own: ${first.join(', ')} and ${claims.length - APPS_NAMED} more`,
    );
    return;
  }
  for (const claim of claims)
    log.info(
      { app: claim.app, spare: claim.spare, backend: claim.backend },
      `app ${claim.app} is served from spare backend ${claim.spare} (no reload) until the next reload gives it backend ${claim.backend}`,
    );
}
