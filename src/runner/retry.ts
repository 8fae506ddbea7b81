// The periodic retry: what a failure left to do later (a reload HAProxy was not reachable for, a
// write that failed, a tcp port another process held, drained servers to delete, what HAProxy
// runs beside the adopted files: servers, maps, spares), and noticing that HAProxy went away
// between changes.
import type { Applied, Applier } from '../apply/applier.js';

export interface RetryDeps {
  applier: Applier;
  /** True when the last build should run again (a full disk or a busy port may be fixed now). */
  rebuildWanted: () => boolean;
  rebuild: () => void;
  /** HAProxy stopped answering: it runs nothing now. */
  haproxyGone: (report: Applied) => void;
  /** The pending reload ran (on the good files, not the latest build). */
  reloaded: (report: Applied) => void;
}

export async function retryOnce(deps: RetryDeps): Promise<void> {
  if (deps.rebuildWanted()) deps.rebuild();
  await deps.applier.retryDrained();
  // Adopted files HAProxy did not report its state for at start (it was not answering yet).
  await deps.applier.learnRuntime();
  const gone = await deps.applier.checkReachable();
  if (gone) deps.haproxyGone(gone);
  const report = await deps.applier.retryPendingReload();
  if (report && report.status !== 'haproxy-unreachable') deps.reloaded(report);
}
