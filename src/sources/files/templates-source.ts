// Reads the templates directory, compiles it, and watches it with chokidar: an edited template is
// re-read and re-compiled; a broken one is reported and the last good templates stay in use.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { TemplateError, errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import { compileTemplates, type CompiledTemplates } from '../../render/templates.js';
import type { TemplateSource } from '../../render/types.js';
import { StatusTracker, type Source, type SourceSink } from '../source.js';

const SUFFIX = '.hbs';

async function readHbsFiles(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith(SUFFIX)) continue;
    out[entry.name.slice(0, -SUFFIX.length)] = await readFile(join(dir, entry.name), 'utf8');
  }
  return out;
}

/** Reads `<dir>/*.hbs` (output files) and `<dir>/partials/*.hbs`. */
export async function readTemplateSource(dir: string): Promise<TemplateSource> {
  let files: Record<string, string>;
  try {
    files = await readHbsFiles(dir);
  } catch (err) {
    throw new TemplateError(`cannot read templates directory ${dir}: ${errorMessage(err)}`, { cause: err });
  }
  let partials: Record<string, string> = {};
  try {
    partials = await readHbsFiles(join(dir, 'partials'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new TemplateError(`cannot read ${join(dir, 'partials')}: ${errorMessage(err)}`, { cause: err });
    }
  }
  return { files, partials };
}

export async function loadTemplates(dir: string): Promise<CompiledTemplates> {
  return compileTemplates(await readTemplateSource(dir));
}

export class TemplatesSource implements Source<CompiledTemplates> {
  readonly name = 'templates';
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> = Promise.resolve();

  constructor(
    private readonly dir: string,
    private readonly log: Logger,
    private readonly debounceMs = 100,
  ) {}

  start(sink: SourceSink<CompiledTemplates>): void {
    const tracker = new StatusTracker(this.name, (s) => sink.status(s));
    const reload = () => {
      // Serialise reads so an older read can never overtake a newer one.
      this.reading = this.reading.then(async () => {
        try {
          const templates = await loadTemplates(this.dir);
          tracker.ok();
          sink.snapshot(templates);
        } catch (err) {
          this.log.error({ err, dir: this.dir }, 'templates refused; the last good templates stay in use');
          tracker.failed(err);
        }
      });
    };
    this.watcher = watch(this.dir, { ignoreInitial: true, depth: 1 });
    this.watcher.on('all', () => {
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(reload, this.debounceMs);
    });
    this.watcher.on('error', (err) => tracker.failed(err));
    reload();
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.watcher?.close();
    await this.reading;
  }
}
