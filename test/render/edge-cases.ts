// Golden cases of the production edge (docs/edge.md), merged into render.test.ts's table.
import type { RoutingModel } from '../../src/model/types.js';
import type { RenderSettings } from '../../src/render/types.js';
import { httpApp, model, server, settings, tcpApp } from './fixtures.js';

const tls = { crtList: '/etc/haproxy/paas-router/crt-list', coveredHosts: ['shop.production.mozilla.community', 'www.shop.example.org'] };

export const edgeCases: Record<string, { model: RoutingModel; settings: RenderSettings }> = {
  // The defaults with TLS: forwarded headers, h2, TLS 1.2+, 308, Secure sticky cookie.
  'edge-tls-defaults': {
    model: model([httpApp('shop', [server('10.0.0.40', 31060)], { httpsOnly: true, sticky: true })], { shop: ['www.shop.example.org'] }),
    settings: { ...settings, tls },
  },
  // Every edge tag and config key set.
  'edge-all': {
    model: model(
      [
        httpApp('shop', [server('10.0.0.40', 31060)], {
          httpsOnly: true,
          sticky: true,
          hsts: 31536000,
          hstsSubdomains: true,
          timeoutConnect: '2s',
          maxBody: 20 * 1024 * 1024,
        }),
        httpApp('blog', [server('10.0.0.41', 31061)], { hsts: 0, maxBody: 1024 }),
        tcpApp('irc', 10001, [server('10.0.0.42', 31062)], { timeoutClient: '10m', timeoutServer: '1h', timeoutConnect: '3s' }),
        tcpApp('mqtt', 10002, [server('10.0.0.43', 31063)], { timeoutServer: '5m' }),
      ],
      { shop: ['www.shop.example.org'] },
    ),
    settings: {
      ...settings,
      maxconn: 20000,
      user: 'haproxy',
      group: 'haproxy',
      tls,
      edge: {
        statsBindAddress: '10.0.0.2',
        trustedProxies: ['10.0.0.0/8', '192.168.1.7', 'fd00::/8'],
        acceptProxy: true,
        sslMinVer: 'TLSv1.3',
        sslCiphers: 'ECDHE-RSA-AES256-GCM-SHA384',
        sslCiphersuites: 'TLS_AES_256_GCM_SHA384',
      },
    },
  },
  // More trusted proxies than fit on one line: several `acl trusted_proxy` lines (OR-ed).
  'edge-many-proxies': {
    model: model([httpApp('web', [server('10.0.0.13', 31030)])]),
    settings: { ...settings, edge: { trustedProxies: Array.from({ length: 45 }, (_, i) => `10.${i}.0.0/16`) } },
  },
};
