// What the runner tells the rest of the daemon (status timeline, metrics, ACME, systemd), by name
// and argument types: a listener with the wrong signature, or an event nobody emits, is a type error.
import type { OrderResult } from '../acme/schedule.js';
import type { ApplyReport } from '../apply/applier.js';
import type { CertificateSyncReport } from '../apply/runtime/certificates.js';
import type { SourceStatus } from '../sources/source.js';
import type { HeldChange } from '../state.js';

export interface RunnerEvents {
  /** A build reached HAProxy (or could not): runtime, reload, unchanged, or why not. */
  applied: [report: ApplyReport];
  /** The never-shrink guard held a change (or released one). */
  held: [held: HeldChange];
  /** A source's state (ok, degraded, down) as last reported. */
  status: [status: SourceStatus];
  /** A build failed before anything reached HAProxy; the running configuration stays. */
  'build-error': [err: unknown];
  /** Milliseconds the last render took. */
  rendered: [ms: number];
  /** Certificates installed or removed through the runtime API after an apply. */
  certificates: [sync: CertificateSyncReport];
  /** An ACME order ended (sent by the ACME manager, counted by the metrics). */
  'acme-order': [result: OrderResult];
}
