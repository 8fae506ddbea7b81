// The peers section from the routers' registrations in the catalog (src/model/peers.ts).
import t from 'tap';
import { peersFrom } from '../../src/model/peers.js';
import { mc } from './helpers.js';

const router = (name: string, address = '10.0.16.1', port = 8405) => ({ ...mc('paas-router', 1, { address, port }), id: `paas-router-peer:${name}` });

t.test('peers: rendered only with this router and at least one other, sorted, bad registrations left out', async (t) => {
  t.equal(peersFrom({}, 'master-1'), undefined, 'nobody registered');
  t.equal(peersFrom({ 'paas-router': [router('master-1')] }, 'master-1'), undefined, 'alone');
  t.equal(peersFrom({ 'paas-router': [router('master-2'), router('master-3')] }, 'master-1'), undefined, 'this router is not registered yet');
  t.equal(peersFrom({ 'paas-router': [router('master-1'), router('master-2')] }, undefined), undefined, 'peers off');
  t.strictSame(
    peersFrom(
      {
        'paas-router': [
          router('master-2', '10.0.16.12'),
          router('master-1', '10.0.16.11'),
          { ...mc('paas-router', 3), id: 'mesos-consul:agent:paas-router:10.0.0.3:31003' },
          router('bad name', '10.0.16.13'),
          router('master-4', 'evil host', 8405),
          router('master-5', '10.0.16.15', 0),
          router('master-1', '10.0.16.99'),
        ],
      },
      'master-1',
    ),
    {
      self: 'master-1',
      list: [
        { name: 'master-1', address: '10.0.16.11', port: 8405 },
        { name: 'master-2', address: '10.0.16.12', port: 8405 },
      ],
    },
  );
});
