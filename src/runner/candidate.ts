// The one candidate builder (issue 20): the daemon's runner and the CLI's `render`, `check` and
// `explain` make the model input, the render settings and the files beside the templates' (Vault's
// certificates, the crt-list) here, from the same inputs in the same way. So `render --out` with
// the daemon's config writes what the daemon applies, byte for byte. Pure: snapshots in, settings
// and files out (the runner renders the live directory through its cache, the CLI from scratch).
import { peersFrom } from '../model/peers.js';
import type { KvEntry, ModelInput, ModelSettings, RoutingModel } from '../model/types.js';
import { renderFiles } from '../render/render.js';
import type { CompiledTemplates } from '../render/templates.js';
import type { RenderedFiles, RenderSettings } from '../render/types.js';
import type { DomainClaim, ServiceInstance } from '../sources/types.js';
import type { SecretsSnapshot } from '../sources/vault/types.js';
import { tlsBuild, type TlsBuild } from './certificate-sync.js';

/** What every source said last (the daemon's latest snapshots, or the CLI's one read). */
export interface CandidateInputs {
  services: Record<string, ServiceInstance[]>;
  claims: DomainClaim[];
  weights?: KvEntry[];
  maintenance?: KvEntry[];
  claimRecords?: KvEntry[];
  delegations?: KvEntry[];
  secrets?: SecretsSnapshot;
}

/** What the router's config says about the candidate (daemon.ts candidateConfigFrom). */
export interface CandidateConfig {
  modelSettings: ModelSettings;
  renderSettings: Omit<RenderSettings, 'configDir'>;
  /** `haproxy.peers.name` when peers are on: the `peers` section is rendered from the catalog's routers. */
  peerName?: string;
}

export function modelInputOf(inputs: CandidateInputs, settings: ModelSettings): ModelInput {
  const { services, claims, weights, maintenance, claimRecords, delegations, secrets } = inputs;
  return { services, claims, settings, weights, maintenance, auth: secrets?.auth, claimRecords, delegations };
}

/** How one model becomes files, for any config directory. */
export interface CandidateFiles {
  /** Vault's certificates checked for the live directory (undefined without certificates in the build). */
  tls: TlsBuild | undefined;
  /** The render settings of the files for `configDir` (paths in the config point into it). */
  settingsFor(configDir: string): RenderSettings;
  /** The files rendered beside the templates' for `configDir`: certificates and crt-list. */
  extraFiles(configDir: string): RenderedFiles;
}

/**
 * `tls`: Vault's certificates go into the files (Vault is configured). `acmeThumbprint`: the ACME
 * challenge answer when known besides the secrets (the issuer has just created the account key).
 */
export function candidateFiles(
  model: RoutingModel,
  inputs: CandidateInputs,
  config: CandidateConfig & { tls: boolean; acmeThumbprint?: string },
  liveDir: string,
): CandidateFiles {
  const { secrets } = inputs;
  const peers = peersFrom(inputs.services, config.peerName);
  const thumbprint = config.acmeThumbprint ?? secrets?.acmeThumbprint;
  const base = {
    ...config.renderSettings,
    stats: secrets?.stats ?? config.renderSettings.stats,
    ...(thumbprint !== undefined ? { acme: { thumbprint } } : {}),
    ...(peers ? { peers } : {}),
  };
  const tls = secrets && config.tls ? tlsBuild(model, secrets.certificates, liveDir) : undefined;
  return {
    tls,
    settingsFor: (configDir) => ({ ...base, configDir, tls: tls?.settingsFor(configDir) }),
    extraFiles: (configDir) => tls?.filesFor(configDir) ?? {},
  };
}

/** Every file of the candidate for `configDir`, rendered from scratch. */
export function renderCandidate(templates: CompiledTemplates, model: RoutingModel, files: CandidateFiles, configDir: string): RenderedFiles {
  return { ...renderFiles(templates, model, files.settingsFor(configDir)), ...files.extraFiles(configDir) };
}
