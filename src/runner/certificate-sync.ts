// Certificates in a build: the plan prepared from Vault's secrets (its files join the candidate,
// so `haproxy -c` checks them before they go live), and after the apply, HAProxy's memory brought
// in step through the runtime API. A change the runtime API cannot make reloads through the
// applier, the one reload path.
import { join } from 'node:path';
import type { Applied, Applier } from '../apply/applier.js';
import type { CertificateRuntime, CertificateSyncReport } from '../apply/runtime/certificates.js';
import type { Logger } from '../log.js';
import type { RoutingModel } from '../model/types.js';
import {
  CERTS_DIR,
  CRT_LIST_FILE,
  certificateFiles,
  hostsCoveredBy,
  prepareCertificates,
  tlsStatusOf,
  type CertificatePlan,
  type TlsStatus,
} from '../render/certificates.js';
import type { RenderedFiles, RenderSettings } from '../render/types.js';
import type { SecretsSnapshot } from '../sources/vault/types.js';

export interface TlsBuild {
  plan: CertificatePlan;
  status: TlsStatus;
  /** The render settings' `tls` for a config directory, or undefined without certificates. */
  settingsFor(configDir: string): RenderSettings['tls'];
  /** The certificate files of a config directory. */
  filesFor(configDir: string): RenderedFiles;
}

/** Pure: Vault's certificates for the live `configDir`, checked, with the hosts they cover. */
export function tlsBuild(model: RoutingModel, certificates: SecretsSnapshot['certificates'], configDir: string): TlsBuild {
  const plan = preparedOnce(certificates, join(configDir, CERTS_DIR));
  const { covered, coveredHosts } = coverageOnce(plan, model.hosts);

  return {
    plan,
    status: tlsStatusOf(model, plan, covered),
    settingsFor: (dir) => (plan.entries.length > 0 ? { crtList: join(dir, CRT_LIST_FILE), coveredHosts } : undefined),
    filesFor: (dir) => certificateFiles(plan, dir),
  };
}

// Certificates are prepared (PEM parsed and checked) once per Vault snapshot, and the hosts they
// cover found once per host list: a change of servers costs neither (the model memo keeps the
// host list while no host changes).
const prepared = new WeakMap<object, { dir: string; plan: CertificatePlan }>();
const coverage = new WeakMap<CertificatePlan, { hosts: RoutingModel['hosts']; covered: Set<string>; coveredHosts: string[] }>();

function preparedOnce(certificates: SecretsSnapshot['certificates'], dir: string): CertificatePlan {
  const kept = prepared.get(certificates);
  if (kept?.dir === dir) return kept.plan;
  const plan = prepareCertificates(certificates, dir);
  prepared.set(certificates, { dir, plan });
  return plan;
}

function coverageOnce(plan: CertificatePlan, hosts: RoutingModel['hosts']): { covered: Set<string>; coveredHosts: string[] } {
  const kept = coverage.get(plan);
  if (kept?.hosts === hosts) return kept;
  const covered = hostsCoveredBy(
    plan,
    hosts.map((h) => h.host),
  );
  const entry = { hosts, covered, coveredHosts: [...covered].sort() };
  coverage.set(plan, entry);
  return entry;
}

export interface CertificateSyncResult {
  sync: CertificateSyncReport;
  /** The reload the sync needed, when it did. */
  reload?: Applied;
}

export async function syncCertificates(runtime: CertificateRuntime, plan: CertificatePlan, applier: Applier, log: Logger): Promise<CertificateSyncResult> {
  const sync = await runtime.sync(plan);
  if (sync.status === 'updated') log.info({ ops: sync.ops }, 'certificates updated through the runtime API, no reload');
  else if (sync.status === 'unreachable')
    log.warn(
      { error: sync.error },
      'certificates not checked against the running HAProxy: its runtime API did not answer; the files are written for its next reload',
    );
  else if (sync.status === 'needs-reload') {
    log.info({ reason: sync.reason, done: sync.ops }, 'certificates: the runtime API cannot apply this change; reloading HAProxy');
    const reload = await applier.reloadRunning(`certificates: ${sync.reason}`);
    if (reload && reload.status !== 'reloaded')
      log.error(
        { status: reload.status, error: reload.error?.message },
        'certificates could not be applied to the running HAProxy; the files are written for its next reload',
      );
    return { sync, reload };
  } else log.debug({ status: sync.status }, 'certificates checked against the running HAProxy');
  return { sync };
}
