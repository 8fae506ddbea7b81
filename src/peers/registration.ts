// This router in Consul: an instance of service `paas-router` with ServiceID
// `paas-router-peer:<haproxy.peers.name>` and its peers port, registered on the local agent (its
// address is then the node's, unless haproxy.peers.bind_address is set). Every router reads the
// others from the catalog (src/model/peers.ts). Registered at start, tried again until it holds,
// removed at a clean stop; a crashed router's entry stays with its agent (a peer that does not
// answer costs HAProxy nothing but reconnection attempts).
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { PEER_ID_PREFIX, ROUTER_SERVICE } from '../model/peers.js';
import type { ConsulClient } from '../sources/consul/client.js';

export interface PeerRegistrationOptions {
  client: Pick<ConsulClient, 'agentServiceRegister' | 'agentServiceDeregister'>;
  name: string;
  port: number;
  bindAddress: string;
  log: Logger;
  retryMs?: number;
}

export class PeerRegistration {
  private timer: NodeJS.Timeout | undefined;
  private registered = false;
  private stopped = false;

  constructor(private readonly opts: PeerRegistrationOptions) {}

  get id(): string {
    return `${PEER_ID_PREFIX}${this.opts.name}`;
  }

  start(): void {
    void this.attempt();
  }

  private async attempt(): Promise<void> {
    if (this.stopped) return;
    const { client, name, port, bindAddress, log } = this.opts;
    try {
      await client.agentServiceRegister({ ID: this.id, Name: ROUTER_SERVICE, Port: port, Tags: ['peers'], ...(bindAddress ? { Address: bindAddress } : {}) });
      this.registered = true;
      log.info({ peer: name, port }, `registered in Consul as ${this.id}: the routers share rate-limit counters through HAProxy peers`);
    } catch (err) {
      log.warn(
        { peer: name, error: errorMessage(err) },
        'could not register in Consul for HAProxy peers; tried again later (rate limits are counted per router meanwhile)',
      );
      this.timer = setTimeout(() => void this.attempt(), this.opts.retryMs ?? 10_000);
      this.timer.unref?.();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.registered) return;
    await this.opts.client
      .agentServiceDeregister(this.id)
      .catch((err) => this.opts.log.warn({ error: errorMessage(err) }, `could not deregister ${this.id} from Consul`));
  }
}
