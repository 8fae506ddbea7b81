// Golden cases of the third-wave tenant features (issue 22: compress, timeout-tunnel, proto,
// canary), merged into render.test.ts's table; each also passes a real `haproxy -c` there.
import type { RoutingModel } from '../../src/model/types.js';
import type { RenderSettings } from '../../src/render/types.js';
import { httpApp, model, server, settings, tcpApp } from './fixtures.js';

export const tenantCases: Record<string, { model: RoutingModel; settings: RenderSettings }> = {
  tenant: {
    model: model([
      httpApp('wordpress', [server('10.0.0.50', 31070)], { compress: true }),
      httpApp('plain', [server('10.0.0.51', 31071)]),
      httpApp('greeter', [server('10.0.0.54', 31074), server('10.0.0.55', 31075, false)], { proto: 'h2', healthcheck: '/health', maxconn: 50 }),
      httpApp('discourse', [server('10.0.0.53', 31073)], { timeoutTunnel: '2h', timeoutServer: '120s' }),
      // A tcp app's tags of the third wave are rejected by the model; the renderer ignores them too.
      tcpApp('irc', 10001, [server('10.0.0.52', 31072)], { compress: true, timeoutTunnel: '1h', proto: 'h2' }),
    ]),
    settings: { ...settings, spareBackends: 1 },
  },
};
