// Logs what changed in TLS between two builds, once per change: hosts newly served on plain HTTP
// only, certificates newly rejected, certificates newly expired.
import type { Logger } from '../log.js';
import type { TlsStatus } from '../render/certificates.js';

/** Hosts named one per line; more are one counted line. */
const HOSTS_NAMED = 5;

export function logTlsChanges(log: Logger, before: TlsStatus | undefined, after: TlsStatus): void {
  const seen = new Set((before?.httpOnlyHosts ?? []).map((h) => JSON.stringify(h)));
  const fresh = after.httpOnlyHosts.filter((h) => !seen.has(JSON.stringify(h)) && !(h.source === 'default' && !h.httpsOnly));
  // Tenants add custom domains: a few named lines, then one line with the count (the rest is in /status).
  for (const h of fresh.slice(0, HOSTS_NAMED)) {
    const why = h.httpsOnly ? `app ${h.app} is router.https-only, but` : `custom domain of app ${h.app}:`;
    log.warn({ host: h.host, app: h.app, httpsOnly: h.httpsOnly }, `${why} no certificate in Vault covers ${h.host}; it is served over plain HTTP only`);
  }
  if (fresh.length > HOSTS_NAMED)
    log.warn(
      { more: fresh.length - HOSTS_NAMED },
      `${fresh.length - HOSTS_NAMED} more hosts with no certificate in Vault are served over plain HTTP only (see /status tls)`,
    );
  const rejected = new Set((before?.rejected ?? []).map((r) => JSON.stringify(r)));
  for (const r of after.rejected) {
    if (!rejected.has(JSON.stringify(r))) log.error({ certificate: r.name }, `certificate tls/${r.name} in Vault is not used: ${r.reason}`);
  }
  const expired = new Set((before?.certificates ?? []).filter((c) => c.expired).map((c) => c.sha256));
  for (const c of after.certificates) {
    if (c.expired && !expired.has(c.sha256)) log.warn({ certificate: c.name, notAfter: c.notAfter }, `certificate tls/${c.name} has expired`);
  }
}
