// A deployment record as the applier makes it, for the readers of what HAProxy runs (status,
// metrics, traffic, the timeline) tested or measured without an applier and a HAProxy.
import type { Deployment } from '../../src/apply/deployment.js';
import { SpareAssignments, type SpareClaim } from '../../src/apply/runtime/spares.js';
import type { RoutingModel } from '../../src/model/types.js';
import type { RenderedFiles } from '../../src/render/types.js';

let generation = 0;

export function deploymentOf(
  model: RoutingModel | undefined,
  opts: {
    checksum?: string;
    loaded?: boolean;
    spares?: { claims: SpareClaim[]; since: number };
    spareTotal?: number;
    files?: RenderedFiles;
    rendering?: Deployment['rendering'];
  } = {},
): Deployment {
  const spares = opts.spares ? SpareAssignments.NONE.with(opts.spares.claims, opts.spares.since) : SpareAssignments.NONE;
  return {
    generation: ++generation,
    files: opts.files ?? {},
    checksum: opts.checksum ?? 'a'.repeat(64),
    loaded: opts.loaded ?? true,
    model,
    spares,
    spareTotal: opts.spareTotal ?? 0,
    ...(opts.rendering ? { rendering: opts.rendering } : {}),
  };
}
