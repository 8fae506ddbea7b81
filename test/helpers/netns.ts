// "Nodes" for the cluster tests: a network namespace each, joined to this (root) namespace by a
// veth pair, with a default route back here. The Consul servers listen on addresses added to this
// namespace's loopback device, so a node reaches them through its veth and the daemon (in the test
// process, here) reaches the node's client agent on the node's veth address. cut() adds an
// `unreachable` route to the servers' /24 inside the node: the node's agent can no longer reach any
// server, while the router still reaches the agent (a partition between the node and the servers,
// not between the router and its agent). Needs root and `ip` (iproute2); everything made is removed
// at teardown, even when the test fails.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';

const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip'].find((p) => existsSync(p));

/** For `t.test(name, { skip: netnsSkip() }, ...)`: false when namespaces can be made, else why not. */
export function netnsSkip(): string | false {
  if (!IP) return 'no `ip` command (iproute2): network namespaces cannot be made';
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  return false;
}

function ip(...args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(IP!, args, { timeout: 10_000 }, (err, _out, stderr) => (err ? reject(new Error(`ip ${args.join(' ')}: ${stderr || err.message}`)) : resolve()));
  });
}

export interface NodeNamespace {
  name: string;
  /** The node's address (its veth), where its client agent listens. */
  ip: string;
  /** Prefix that runs a command inside the node. */
  wrap: string[];
  /** The node can no longer reach the servers. */
  cut(): Promise<void>;
  heal(): Promise<void>;
}

export interface TestNetwork {
  /** Three addresses for the servers, on this namespace's loopback. */
  serverIps: string[];
  nodes: NodeNamespace[];
}

/**
 * `count` nodes. Addresses: servers 198.19.N.2-4, node i on 198.18.N.(16 i)/28 (198.18.0.0/15 is
 * reserved for benchmarks: never a real network here); N from the pid, the next free one if another
 * test process holds it.
 */
export async function startTestNetwork(t: { teardown(fn: () => unknown): void }, count: number): Promise<TestNetwork> {
  const tag = `${process.pid % 100000}`;
  const undo: (() => Promise<void>)[] = [];
  t.teardown(async () => {
    for (const step of undo.reverse()) await step().catch(() => undefined);
  });
  // A /24 nobody here uses: the first server address taken tells (another test process holds it).
  let n = 0;
  for (let attempt = 0; ; attempt++) {
    n = 20 + ((process.pid + attempt * 37) % 200);
    try {
      await ip('addr', 'add', `198.19.${n}.2/32`, 'dev', 'lo');
      break;
    } catch (err) {
      if (attempt >= 20) throw err;
    }
  }
  const serverIps = [2, 3, 4].map((h) => `198.19.${n}.${h}`);
  for (const addr of serverIps) {
    if (addr !== serverIps[0]) await ip('addr', 'add', `${addr}/32`, 'dev', 'lo');
    undo.push(() => ip('addr', 'del', `${addr}/32`, 'dev', 'lo'));
  }
  const nodes: NodeNamespace[] = [];
  for (let i = 0; i < count; i++) {
    const name = `prt${tag}n${i}`;
    const outside = `prt${tag}o${i}`.slice(0, 15);
    const inside = `prt${tag}i${i}`.slice(0, 15);
    const base = 16 * i;
    const hostSide = `198.18.${n}.${base + 1}`;
    const nodeSide = `198.18.${n}.${base + 2}`;
    await ip('netns', 'add', name);
    undo.push(() => ip('netns', 'del', name));
    await ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', inside);
    undo.push(() => ip('link', 'del', outside)); // gone with the namespace already, mostly
    await ip('link', 'set', inside, 'netns', name);
    await ip('addr', 'add', `${hostSide}/28`, 'dev', outside);
    await ip('link', 'set', outside, 'up');
    const inNode = (...args: string[]) => ip('netns', 'exec', name, IP!, ...args);
    await inNode('addr', 'add', `${nodeSide}/28`, 'dev', inside);
    await inNode('link', 'set', inside, 'up');
    await inNode('link', 'set', 'lo', 'up');
    await inNode('route', 'add', 'default', 'via', hostSide);
    const servers = `198.19.${n}.0/24`;
    nodes.push({
      name,
      ip: nodeSide,
      wrap: [IP!, 'netns', 'exec', name],
      cut: () => inNode('route', 'add', 'unreachable', servers),
      heal: () => inNode('route', 'del', 'unreachable', servers),
    });
  }
  return { serverIps, nodes };
}
