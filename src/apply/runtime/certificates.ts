// HAProxy's memory of the TLS certificates, kept in step with the files through the runtime API
// (`new/set/commit ssl cert`, `add/del ssl crt-list`, `del ssl cert`): adding, rotating and removing
// a certificate needs no reload. What the runtime API cannot do (replace or remove the default
// certificate, which HAProxy refuses to delete while a bind uses it) is reported as `needs-reload`;
// the applier, which has already written the files, reloads.
import { join } from 'node:path';
import { RuntimeRefusedError, errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import { CRT_LIST_FILE, type CertificatePlan, type PreparedCertificate } from '../../render/certificates.js';
import { sendSocketCommand, sendSocketPayload } from '../socket.js';

export interface CertificateRuntimeOptions {
  configDir: string;
  runtimeSocket: string;
  log: Logger;
}

export interface CertificateSyncReport {
  /**
   * `in-step`: nothing to do; `updated`: changed at runtime; `needs-reload`: the runtime API cannot
   * make this change (`reason` says why); `not-loaded`: HAProxy runs no frontend with our crt-list
   * (the next reload loads the files); `unreachable`: the runtime API did not answer.
   */
  status: 'in-step' | 'updated' | 'needs-reload' | 'not-loaded' | 'unreachable';
  /** `add www.example.org`, `rotate default`, `remove old.example.org`. */
  ops: string[];
  reason?: string;
  error?: string;
}

interface LoadedEntry {
  file: string;
  sni: string[];
}

export class CertificateRuntime {
  readonly crtListPath: string;

  constructor(private readonly opts: CertificateRuntimeOptions) {
    this.crtListPath = join(opts.configDir, CRT_LIST_FILE);
  }

  /**
   * Makes HAProxy's memory match `plan` through the runtime API. What it cannot do is returned as
   * `needs-reload` with the reason: the caller reloads through the applier.
   */
  async sync(plan: CertificatePlan): Promise<CertificateSyncReport> {
    const ops: string[] = [];
    const socket = this.opts.runtimeSocket;
    let lists: string;
    try {
      lists = await sendSocketCommand(socket, 'show ssl crt-list');
    } catch (err) {
      return { status: 'unreachable', ops, error: `runtime API ${socket}: ${errorMessage(err)}` };
    }
    if (!lists.split('\n').some((l) => l.trim() === this.crtListPath)) return { status: 'not-loaded', ops };

    let reloadReason: string | undefined;
    try {
      const loaded = parseCrtList(await sendSocketCommand(socket, `show ssl crt-list -n ${this.crtListPath}`));
      const wanted = new Map(plan.entries.map((e) => [e.file, e]));
      const first = plan.entries[0];
      if (first && loaded[0]?.file !== first.file) reloadReason = `${first.name} must be the first (default) certificate`;
      for (const entry of plan.entries) {
        const current = loaded.find((l) => l.file === entry.file);
        if (!current) {
          if (reloadReason) break;
          await this.addCertificate(entry);
          ops.push(`add ${entry.name}`);
          continue;
        }
        if ((current.sni[0] ?? null) !== entry.sni || current.sni.length > 1) {
          reloadReason = `the SNI filter of ${entry.name} changed`;
          break;
        }
        if ((await this.loadedFingerprint(entry.file)) !== entry.sha1) {
          await this.replaceCertificate(entry);
          ops.push(`rotate ${entry.name}`);
        }
      }
      if (!reloadReason) {
        for (const stale of loaded.filter((l) => !wanted.has(l.file))) {
          const deleted = await sendSocketCommand(socket, `del ssl crt-list ${this.crtListPath} ${stale.file}`);
          if (!/deleted/i.test(deleted)) {
            reloadReason = `HAProxy would not remove ${stale.file} at runtime (${firstLine(deleted)})`;
            break;
          }
          const freed = await sendSocketCommand(socket, `del ssl cert ${stale.file}`);
          if (!/deleted/i.test(freed)) this.opts.log.warn({ file: stale.file, answer: firstLine(freed) }, 'HAProxy kept a removed certificate in memory');
          ops.push(`remove ${stale.file}`);
        }
      }
    } catch (err) {
      reloadReason = errorMessage(err);
    }
    if (!reloadReason) return { status: ops.length > 0 ? 'updated' : 'in-step', ops };

    // The files are already right for a reload; the applier does it (its one reload path).
    return { status: 'needs-reload', ops, reason: reloadReason };
  }

  private async loadedFingerprint(file: string): Promise<string | undefined> {
    const answer = await sendSocketCommand(this.opts.runtimeSocket, `show ssl cert ${file}`);
    return /SHA1 FingerPrint:\s*([0-9A-F]+)/i.exec(answer)?.[1]?.toUpperCase();
  }

  private async addCertificate(entry: PreparedCertificate): Promise<void> {
    const socket = this.opts.runtimeSocket;
    const stores = await sendSocketCommand(socket, 'show ssl cert');
    if (!stores.split('\n').some((l) => l.trim() === entry.file)) {
      const created = await sendSocketCommand(socket, `new ssl cert ${entry.file}`);
      if (!/New empty certificate store/i.test(created)) throw new RuntimeRefusedError(`new ssl cert ${entry.file}: ${firstLine(created)}`);
    }
    await this.replaceCertificate(entry);
    const added = await sendSocketPayload(socket, `add ssl crt-list ${this.crtListPath}`, `${entry.file} ${entry.sni ?? ''}`.trim());
    if (!/Success!/.test(added)) throw new RuntimeRefusedError(`add ssl crt-list ${entry.file}: ${firstLine(added)}`);
  }

  private async replaceCertificate(entry: PreparedCertificate): Promise<void> {
    const socket = this.opts.runtimeSocket;
    const set = await sendSocketPayload(socket, `set ssl cert ${entry.file}`, entry.pem);
    if (!/Transaction (created|updated)/i.test(set)) {
      await sendSocketCommand(socket, `abort ssl cert ${entry.file}`).catch(() => undefined);
      throw new RuntimeRefusedError(`set ssl cert ${entry.file}: ${firstLine(set)}`);
    }
    const commit = await sendSocketCommand(socket, `commit ssl cert ${entry.file}`);
    if (!/Success!/.test(commit)) {
      await sendSocketCommand(socket, `abort ssl cert ${entry.file}`).catch(() => undefined);
      throw new RuntimeRefusedError(`commit ssl cert ${entry.file}: ${firstLine(commit)}`);
    }
  }
}

/** `show ssl crt-list -n <file>`: `# <file>` then `<cert>:<line> [options] [sni...]` per entry. */
export function parseCrtList(answer: string): LoadedEntry[] {
  const entries: LoadedEntry[] = [];
  for (const raw of answer.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const withoutOptions = line.replace(/\[[^\]]*\]/g, ' ');
    const [first, ...rest] = withoutOptions.split(/\s+/).filter(Boolean);
    if (!first) continue;
    entries.push({ file: first.replace(/:\d+$/, ''), sni: rest });
  }
  return entries;
}

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .find((l) => l.trim() !== '')
      ?.trim()
      .slice(0, 200) ?? 'no answer'
  );
}
