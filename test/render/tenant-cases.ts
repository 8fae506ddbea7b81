// Golden cases of the third-wave tenant features (issue 22: compress, timeout-tunnel, proto,
// canary, cache), merged into render.test.ts's table; each also passes a real `haproxy -c` there.
import type { RoutingModel } from '../../src/model/types.js';
import type { RenderSettings } from '../../src/render/types.js';
import { httpApp, model, server, settings, tcpApp } from './fixtures.js';

const member = (app: string, weight: number, address: string, port: number) => ({ ...server(address, port), name: `${app}_${address}:${port}`, app, weight });

export const tenantCases: Record<string, { model: RoutingModel; settings: RenderSettings }> = {
  tenant: {
    model: model([
      // router.cache beside router.compress (the cache keeps what the app sent; gzip on the way out).
      httpApp('wordpress', [server('10.0.0.50', 31070)], { compress: true, cache: 64 }),
      // A name too long for HAProxy's 32-character cache names: an upper-case name with a hash.
      httpApp('community-documentation-portal', [server('10.0.0.56', 31076)], { cache: 1, path: '/docs', stripPath: true, hsts: 31536000 }),
      httpApp('plain', [server('10.0.0.51', 31071)]),
      // A group with a canary by header and one by cookie beside the weights (and a rate limit).
      httpApp('shop', [member('shop-blue', 90, '10.0.0.60', 31080), member('shop-green', 0, '10.0.0.61', 31081), member('shop-red', 10, '10.0.0.62', 31082)], {
        healthcheck: '/health',
        compress: true,
        // The group's cache; its canary backends have none (they never serve the group's objects).
        cache: 128,
        // The canaries count in the group's table: the header buys no extra requests.
        rateLimit: { requests: 20, period: '10s', periodMs: 10_000, path: '/login' },
        members: [
          { app: 'shop-blue', weight: 90, weightFrom: 'kv', servers: 1 },
          { app: 'shop-green', weight: 0, weightFrom: 'kv', servers: 1, canary: { kind: 'header', name: 'x-canary', value: 'green' } },
          { app: 'shop-red', weight: 10, weightFrom: 'kv', servers: 1, canary: { kind: 'cookie', name: 'shop_track', value: 'red.2' } },
        ],
        weightsKey: 'paas-router/weights/shop',
      }),
      httpApp('greeter', [server('10.0.0.54', 31074), server('10.0.0.55', 31075, false)], { proto: 'h2', healthcheck: '/health', maxconn: 50 }),
      httpApp('discourse', [server('10.0.0.53', 31073)], { timeoutTunnel: '2h', timeoutServer: '120s' }),
      // A tcp app's tags of the third wave are rejected by the model; the renderer ignores them too.
      tcpApp('irc', 10001, [server('10.0.0.52', 31072)], { compress: true, timeoutTunnel: '1h', proto: 'h2' }),
    ]),
    settings: { ...settings, spareBackends: 1 },
  },
};
