// Reads Marathon app JSON as users write it (examples/marathon/*.json): the app id, the instance
// count and the `tags` label that mesos-consul copies to Consul tags.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tagsOfLabel } from '../src/model/marathon.js';

export interface MarathonApp {
  id: string;
  instances: number;
  tags: string[];
  mode: 'http' | 'tcp';
  /** `router.port` of a tcp app. */
  port?: number;
}

export function parseMarathonApp(json: unknown, origin: string): MarathonApp {
  const app = json as { id?: unknown; instances?: unknown; labels?: Record<string, unknown> };
  if (typeof app?.id !== 'string' || !app.id.startsWith('/')) throw new Error(`${origin}: "id" must be an absolute Marathon app id`);
  const tagsLabel = app.labels?.tags;
  const tags = typeof tagsLabel === 'string' ? tagsOfLabel(tagsLabel) : [];
  const portTag = tags.find((t) => t.startsWith('router.port='));
  return {
    id: app.id,
    instances: typeof app.instances === 'number' ? app.instances : 1,
    tags,
    mode: tags.includes('router.mode=tcp') ? 'tcp' : 'http',
    port: portTag ? Number(portTag.slice('router.port='.length)) : undefined,
  };
}

export async function readMarathonApps(dir: string): Promise<MarathonApp[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(files.map(async (f) => parseMarathonApp(JSON.parse(await readFile(join(dir, f), 'utf8')), join(dir, f))));
}
