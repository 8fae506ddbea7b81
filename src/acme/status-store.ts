// Per-name ACME status in Consul K/V (`<consul_prefix>status/<fqdn>`, JSON): every router reads
// it for the operator view, only the lock holder writes it.
import type { Logger } from '../log.js';
import type { ConsulClient } from '../sources/consul/client.js';
import { parseKvEntries } from '../sources/consul/parse.js';
import { parseStatus, type NameStatus } from './schedule.js';

export class AcmeStatusStore {
  private readonly prefix: string;
  /** Values already reported as unusable (logged once). */
  private readonly reported = new Set<string>();

  constructor(
    private readonly client: ConsulClient,
    consulPrefix: string,
    private readonly log: Logger,
  ) {
    this.prefix = `${consulPrefix}status/`;
  }

  async readAll(): Promise<Map<string, NameStatus>> {
    const { data } = await this.client.kvPrefix(this.prefix, 0, 0);
    const statuses = new Map<string, NameStatus>();
    for (const entry of parseKvEntries(this.prefix, data)) {
      const host = entry.key.slice(this.prefix.length);
      if (!host || host.includes('/')) continue;
      const status = parseStatus(host, entry.value);
      if ('error' in status) {
        const id = `${entry.key}@${entry.modifyIndex}`;
        if (!this.reported.has(id))
          this.log.warn({ key: entry.key }, `ACME status ${entry.key} ${status.error}; it is ignored and rewritten at the next attempt`);
        this.reported.add(id);
        continue;
      }
      statuses.set(host, status);
    }
    return statuses;
  }

  async write(status: NameStatus): Promise<void> {
    await this.client.kvPut(`${this.prefix}${status.host}`, JSON.stringify(status));
  }
}
