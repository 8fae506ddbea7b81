// What the daemon knows about itself: read by logs, the status page, /status, /healthz and metrics.
import type { ApplyReport } from './apply/applier.js';
import type { Deployment } from './apply/deployment.js';
import type { AcmeView } from './acme/view.js';
import type { TlsStatus } from './render/certificates.js';
import type { RoutingModel } from './model/types.js';
import type { SourceStatus } from './sources/source.js';
import type { ReadProgress } from './sources/consul/catalog-source.js';

export interface BuildError {
  code: string;
  message: string;
  at: number;
}

export interface HeldChange {
  since: number;
  reason: string;
  checksum: string;
  routesBefore: number;
  routesAfter: number;
}

export interface RouterState {
  startedAt: number;
  sources: Record<string, SourceStatus>;
  /** The model of the last build that rendered, whether or not it was applied (it may be held or refused). */
  builtModel?: RoutingModel;
  /** The checksum of that build's files: the changes are pending while HAProxy runs others. */
  builtChecksum?: string;
  /**
   * What HAProxy runs (or loads when it answers again, after `haproxy-unreachable`): the files,
   * their model and checksum, the apps on spare backends. Read from the applier, which owns it;
   * nothing keeps a copy.
   */
  readonly deployment?: Deployment;
  lastApply?: ApplyReport & { at: number };
  lastReloadAt?: number;
  /** When a change was last applied through HAProxy's runtime API (no reload). */
  lastRuntimeChangeAt?: number;
  lastBuildError?: BuildError;
  /** A change held by the never-shrink guard until a fresh read confirms it (or an operator releases it). */
  held?: HeldChange;
  /** How the last held change ended: confirmed by a fresh read, released by an operator, or the routes came back. */
  lastHold?: HeldChange & { resolution: 'confirmed' | 'released' | 'routes-back'; resolvedAt: number };
  /** Certificates from Vault in use, rejected ones, and routed hosts served on plain HTTP only. */
  tls?: TlsStatus;
  /** Duration of the last successful render of the candidate files, ms. */
  lastRenderMs?: number;
  /** The first read of the Consul catalog: services read of those listed (absent until the list is read). */
  startup?: ReadProgress;
  /** ACME issuing (src/acme/view.ts): lock, per-host certificate source, expiry, last order, next try. */
  acme?: AcmeView;
  /** What the host HAProxy runs on lacks, found at start (src/apply/host-settings.ts): /status warnings. */
  hostWarnings?: readonly string[];
  counters: {
    builds: number;
    reloads: number;
    runtimeChanges: number;
    reloadFailures: number;
    refusedConfigs: number;
    renderErrors: number;
    heldChanges: number;
  };
}

/** `deployment`: where what HAProxy runs is read (the applier's record); none by default. */
export function initialState(now: number, deployment: () => Deployment | undefined = () => undefined): RouterState {
  return {
    startedAt: now,
    sources: {},
    counters: { builds: 0, reloads: 0, runtimeChanges: 0, reloadFailures: 0, refusedConfigs: 0, renderErrors: 0, heldChanges: 0 },
    get deployment() {
      return deployment();
    },
  };
}
