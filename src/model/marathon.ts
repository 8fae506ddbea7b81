// A Marathon app definition as the bridge sees it: the Consul service name mesos-consul registers
// for it, the Consul tags it copies from the `tags` label, and the ports its tasks get. Pure; the
// dev cluster registers its sample apps with the same functions, so `explain --marathon` and the
// dev cluster can never disagree on a name.
import { safeText } from './text.js';

/** mesos-consul's name for a Marathon app id: /community/wordpress -> wordpress-community; /foo -> foo. */
export function mesosServiceName(app: string): string {
  // Marathon names a task after its app id reversed and joined by dots; mesos-consul's cleanName()
  // then turns every character outside [A-Za-z0-9_-] into '-', drops '_' and lowercases.
  const taskName = app
    .split('/')
    .filter((s) => s !== '')
    .reverse()
    .join('.');
  return taskName
    .replace(/[^\w-]/g, '-')
    .replace(/_/g, '')
    .toLowerCase();
}

/** The Consul tags mesos-consul copies from the `tags` label: split on commas, trimmed, empty items dropped. */
export function tagsOfLabel(label: string): string[] {
  return label
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
}

/** Marathon's rule for one segment of an app id (lowercase letters, digits, dots, inner hyphens). */
const ID_SEGMENT = /^(([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])$/;

export interface MarathonPort {
  /** Where the port was declared: portDefinitions, container.portMappings, container.docker.portMappings or ports. */
  from: string;
  /** Container port (port mappings) or the requested host port (0: Marathon picks one). */
  port: number;
  name?: string;
  protocol?: string;
}

export interface MarathonDefinition {
  /** The absolute app id (a relative id is taken from the root group, as Marathon does on POST /v2/apps). */
  id: string;
  service: string;
  tags: string[];
  ports: MarathonPort[];
  /** Labels other than `tags` that look like another router's (marathon-lb's HAPROXY_*, Traefik's traefik.*). */
  foreignLabels: string[];
}

export type MarathonParse = { ok: true; app: MarathonDefinition } | { ok: false; reason: string };

function portsOf(list: unknown, from: string, key: 'port' | 'containerPort'): MarathonPort[] | string {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) return `${from} must be a list`;
  const out: MarathonPort[] = [];
  for (const [i, raw] of list.entries()) {
    const entry = typeof raw === 'number' && key === 'port' ? { port: raw } : (raw as Record<string, unknown>);
    const port = entry?.[key];
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) return `${from}[${i}].${key} must be a port number 0..65535`;
    const p: MarathonPort = { from, port };
    if (typeof entry.name === 'string') p.name = safeText(entry.name, 64);
    if (typeof entry.protocol === 'string') p.protocol = safeText(entry.protocol, 16);
    out.push(p);
  }
  return out;
}

/** Reads a Marathon app definition (the JSON a tenant posts to /v2/apps); the reason names what is wrong. */
export function parseMarathonDefinition(json: unknown): MarathonParse {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return { ok: false, reason: 'not a Marathon app definition: expected a JSON object' };
  const app = json as Record<string, unknown>;
  if (typeof app.id !== 'string' || app.id === '') return { ok: false, reason: '"id" is missing: a Marathon app needs an id such as /community/wordpress' };
  const id = app.id.startsWith('/') ? app.id : `/${app.id}`;
  const segments = id.split('/').slice(1);
  for (const seg of segments) {
    if (!ID_SEGMENT.test(seg)) {
      return {
        ok: false,
        reason: `"id" ${JSON.stringify(safeText(app.id, 128))}: segment ${JSON.stringify(safeText(seg, 64))} is not a Marathon id segment (lowercase letters, digits, dots and inner hyphens)`,
      };
    }
  }
  const labels = app.labels ?? {};
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) return { ok: false, reason: '"labels" must be an object of strings' };
  const tagsLabel = (labels as Record<string, unknown>).tags;
  if (tagsLabel !== undefined && typeof tagsLabel !== 'string') return { ok: false, reason: 'labels.tags must be a string (tags separated by commas)' };
  const foreignLabels = Object.keys(labels)
    .filter((k) => /^HAPROXY_|^traefik\.|^urlprefix-/i.test(k))
    .map((k) => safeText(k, 64))
    .sort();
  const container = (app.container ?? {}) as Record<string, unknown>;
  const docker = (container.docker ?? {}) as Record<string, unknown>;
  const ports: MarathonPort[] = [];
  for (const [list, from, key] of [
    [app.portDefinitions, 'portDefinitions', 'port'],
    [container.portMappings, 'container.portMappings', 'containerPort'],
    [docker.portMappings, 'container.docker.portMappings', 'containerPort'],
    [app.ports, 'ports', 'port'],
  ] as const) {
    const found = portsOf(list, from, key);
    if (typeof found === 'string') return { ok: false, reason: found };
    // Marathon takes the first of these it finds; the others are legacy spellings.
    if (ports.length === 0) ports.push(...found);
  }
  // Without any port field Marathon gives the app one port definition (a host port it picks).
  if ([app.portDefinitions, app.ports, container.portMappings, docker.portMappings].every((f) => f === undefined))
    ports.push({ from: 'Marathon default', port: 0 });
  return { ok: true, app: { id, service: mesosServiceName(id), tags: tagsOfLabel(tagsLabel ?? ''), ports, foreignLabels } };
}
