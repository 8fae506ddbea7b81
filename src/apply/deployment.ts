// What HAProxy runs, as one record: the files, the build they came from, their checksum, and the
// brand-new apps served from spare backends. The applier alone makes these records (adopting the
// files on disk and HAProxy's spares at start, after each apply and reload) and replaces the one
// it holds whole; the runner, the status server, traffic and explain read that one. A record is
// never changed: `generation` tells one from the next, so "is this still what runs" is a number.
import type { RoutingModel } from '../model/types.js';
import type { CompiledTemplates } from '../render/templates.js';
import type { RenderedFiles } from '../render/types.js';
import type { TemplateData } from '../render/views.js';
import type { SpareUse } from './runtime/model-plan.js';
import { MAIN_CONFIG, parseConfig } from './runtime/parse.js';
import { spareNames, type SpareAssignments } from './runtime/spares.js';

/** Renders the candidate for a given directory: paths inside the config must point at its files. */
export type Candidate = (configDir: string) => RenderedFiles;

/** What a candidate was built from: kept with the deployment, the next build is planned against it. */
export interface BuiltFrom {
  readonly model: RoutingModel;
  readonly data: TemplateData;
  readonly templates: CompiledTemplates;
}

/** The files of a deployment and what they were made from (the part an apply or a reload brings). */
export interface Deployable {
  readonly files: Readonly<RenderedFiles>;
  /** sha256 of the files (checksumOf). */
  readonly checksum: string;
  /** The model the files were built from; undefined for files adopted from disk until a build gives the same bytes. */
  readonly model?: RoutingModel;
  /** The template data and templates of that build: what the runtime planner compares the next build with. */
  readonly rendering?: { readonly data: TemplateData; readonly templates: CompiledTemplates };
  /** Renders the same files for another directory (the consolidation validates them again); undefined for adopted files. */
  readonly candidate?: Candidate;
  /** How many spare backends the files have. */
  readonly spareTotal: number;
}

export interface Deployment extends Deployable {
  /** Counts up with every record one applier makes. */
  readonly generation: number;
  /** False after `haproxy-unreachable`: validated and on disk, HAProxy loads them when it answers. */
  readonly loaded: boolean;
  /** Brand-new apps HAProxy serves from spare backends until the next reload. */
  readonly spares: SpareAssignments;
  /** Why no spare may be taken (HAProxy's spares are not known: files adopted at start), if so. */
  readonly sparesUnknown?: string;
  /** Adopted files HAProxy did not report its state for yet (it did not answer): the retry loop asks. */
  readonly runtimeToRead?: boolean;
  /**
   * How HAProxy's runtime state differs from the adopted files (servers, maps, spares), if it does:
   * no change goes through the runtime API, and the next build reloads, even with the same bytes.
   */
  readonly drift?: string;
}

/** The checksum of what HAProxy runs now: none while it has not loaded the deployment. */
export function runningChecksumOf(deployment: Deployment | undefined): string | undefined {
  return deployment?.loaded ? deployment.checksum : undefined;
}

/** The spares the runtime planner may not take, or why it may take none. */
export function spareUseOf(deployment: Deployment): SpareUse {
  const use: SpareUse = { inUse: deployment.spares.inUse };
  return deployment.sparesUnknown === undefined ? use : { ...use, unavailable: deployment.sparesUnknown };
}

/** The files, what they were built from and how many spares they have. */
export function deployable(files: RenderedFiles, checksum: string, built?: BuiltFrom, candidate?: Candidate): Deployable {
  if (!built) return { files, checksum, candidate, spareTotal: spareNames(parseConfig(files[MAIN_CONFIG] ?? '').proxies.keys()).length };
  const { model, data, templates } = built;
  return { files, checksum, candidate, model, rendering: { data, templates }, spareTotal: data.spares.length };
}
