// One-line descriptions of an app's features, for the status page and `explain`
// ("www.example.org → 308 to example.org", "weights web-blue 90 / web-green 10",
// "in maintenance since ..."). Pure.
import type { AppRoute } from './types.js';

export function describeFeatures(app: AppRoute): string[] {
  const lines: string[] = [];
  if (app.allow) lines.push(`only ${app.allow.join(', ')} reach it (others get ${app.mode === 'http' ? '403' : 'the connection refused'})`);
  if (app.redirect) {
    for (const host of app.hosts.filter((h) => h !== app.redirect)) lines.push(`${host} → 308 to ${app.redirect}`);
  }
  if (app.path) lines.push(`served under ${app.path} on each host${app.stripPath ? ` (the app gets the path without ${app.path})` : ''}`);
  if (app.members) {
    const weights = app.members.map((m) => `${m.app} ${m.weight}`).join(' / ');
    const from = app.weightsKey && app.members.some((m) => m.weightFrom !== 'default') ? ` (from ${app.weightsKey})` : ' (default: equal)';
    lines.push(`group of ${app.members.map((m) => m.app).join(', ')}: weights ${weights}${from}`);
    for (const m of app.members.filter((x) => x.weight === 0)) lines.push(`${m.app} has weight 0: drained, no new traffic`);
  }
  if (app.maintenance) {
    const since = app.maintenance.since !== undefined ? ` since ${new Date(app.maintenance.since).toISOString()}` : '';
    lines.push(`in maintenance${since} (${app.maintenance.key}): 503 "${app.maintenance.message}"`);
  }
  return lines;
}
