// CIDR blocks: the validator (config keys) and the matcher (haproxy.backend_networks).
import t from 'tap';
import { cidrContains, cidrProblem } from '../../src/util/cidr.js';

t.test('cidrContains: IPv4 and IPv6 blocks and bare addresses; families never mix', async (t) => {
  const table: [string, string, boolean][] = [
    ['10.0.0.0/8', '10.1.2.3', true],
    ['10.0.0.0/8', '11.0.0.1', false],
    ['10.0.16.0/20', '10.0.31.255', true],
    ['10.0.16.0/20', '10.0.32.0', false],
    ['0.0.0.0/0', '203.0.113.9', true],
    ['192.168.1.7', '192.168.1.7', true],
    ['192.168.1.7', '192.168.1.8', false],
    ['fd00::/8', 'fd12::1', true],
    ['fd00::/8', 'fe80::1', false],
    ['::1', '0:0:0:0:0:0:0:1', true],
    ['2001:db8::/32', '2001:db8:ffff::1', true],
    ['2001:db8::/32', '2001:db9::1', false],
    ['::ffff:0:0/96', '::ffff:127.0.0.1', true],
    ['::/0', '::', true],
    ['10.0.0.0/8', '::ffff:10.0.0.1', false],
    ['::/0', '10.0.0.1', false],
    ['10.0.0.0/8', 'agent1.example', false],
  ];
  for (const [cidr, address, inside] of table) {
    t.equal(cidrProblem(cidr), undefined, `${cidr} is valid`);
    t.equal(cidrContains(cidr, address), inside, `${address} ${inside ? 'in' : 'not in'} ${cidr}`);
  }
});
