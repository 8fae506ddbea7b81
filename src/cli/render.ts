// `render` and `check`: read every source once, build, render; `check` also runs `haproxy -c`.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAIN_CONFIG } from '../apply/applier.js';
import { writeFilesAtomically, type WriteOptions } from '../apply/files.js';
import { checkConfig } from '../apply/validate.js';
import type { Config } from '../config/config.js';
import { candidateConfigFrom } from '../daemon.js';
import type { Rejection, RoutingModel } from '../model/types.js';
import { isCertificateFile } from '../render/certificates.js';
import type { RenderedFiles } from '../render/types.js';
import { candidateFiles, renderCandidate } from '../runner/candidate.js';
import { withoutBusyPorts } from '../runner/ports.js';
import { loadTemplates } from '../sources/files/templates-source.js';
import { readLiveView } from './explain.js';

/** As the applier writes them: certificates (private keys) 0600 in a 0700 directory. */
const WRITE_OPTIONS: WriteOptions = { first: ['hosts.map'], secret: isCertificateFile };

export interface OneShot {
  model: RoutingModel;
  /** Renders the files as they would be deployed into `configDir`. */
  renderAt(configDir: string): RenderedFiles;
}

/**
 * The daemon's candidate (runner/candidate.ts) from one read of every source: Vault's certificates
 * and the ACME challenge answer included, tcp apps whose port another process holds left out.
 */
export async function buildOnce(config: Config): Promise<OneShot> {
  const templates = await loadTemplates(config.templatesDir);
  // The same read as `explain` and `domains list`: catalog, domains, weights, maintenance, Vault.
  const view = await readLiveView(config, { vault: true });
  const { configDir, bindAddress } = config.haproxy;
  // As the daemon after adopting them: the ports of the files on disk belong to HAProxy.
  const running = await readFile(join(configDir, MAIN_CONFIG), 'utf8').catch(() => '');
  const { model } = await withoutBusyPorts(view.model, running, bindAddress);
  const inputs = { services: view.catalog.services, claims: view.claims, secrets: view.secrets };
  const files = candidateFiles(model, inputs, { ...candidateConfigFrom(config), tls: view.secrets !== undefined }, configDir);
  return { model, renderAt: (dir) => renderCandidate(templates, model, files, dir) };
}

export function formatRejection(r: Rejection): string {
  const key = r.key ? ` (${r.key})` : '';
  return `rejected ${r.kind} ${JSON.stringify(r.subject)} of ${r.service}${key}: ${r.reason}`;
}

export async function renderCommand(config: Config, outDir: string | undefined, out: NodeJS.WritableStream): Promise<void> {
  const once = await buildOnce(config);
  const files = once.renderAt(config.haproxy.configDir);
  if (outDir) {
    await writeFilesAtomically(outDir, files, WRITE_OPTIONS);
    out.write(`wrote ${Object.keys(files).sort().join(', ')} to ${outDir}\n`);
  } else {
    out.write(files[MAIN_CONFIG]!);
  }
  for (const r of once.model.rejections) process.stderr.write(`${formatRejection(r)}\n`);
}

/** Returns true when the rendered configuration passes `haproxy -c`. */
export async function checkCommand(config: Config, out: NodeJS.WritableStream): Promise<boolean> {
  const once = await buildOnce(config);
  const { model } = once;
  out.write(`${model.apps.length} apps, ${model.hosts.length} hosts, ${model.rejections.length} rejected inputs\n`);
  for (const r of model.rejections) out.write(`${formatRejection(r)}\n`);
  const dir = await mkdtemp(join(tmpdir(), 'paas-router-check-'));
  try {
    await writeFilesAtomically(dir, once.renderAt(dir), WRITE_OPTIONS);
    await checkConfig(config.haproxy.bin, join(dir, MAIN_CONFIG));
    out.write('haproxy -c: configuration is valid\n');
    return true;
  } catch (err) {
    const output = (err as { output?: string }).output;
    out.write(`haproxy -c: configuration is NOT valid: ${(err as Error).message}\n${output ? `${output}\n` : ''}`);
    return false;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
