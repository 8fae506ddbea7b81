// What the kernel says about loopback TCP connections (`ss`), for tests that must know the server
// side has a request before they go on, instead of pausing.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Established connections to `serverPort`, as [local port, peer port, Recv-Q] of each side. */
async function established(filter: 'sport' | 'dport', serverPort: number): Promise<{ local: number; peer: number; recvQ: number }[]> {
  const { stdout } = await run('ss', ['-Htn', 'state', 'established', filter, `= :${serverPort}`]);
  const port = (address: string | undefined) => Number(address?.slice(address.lastIndexOf(':') + 1));
  return stdout
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => {
      const [recvQ, , local, peer] = line.trim().split(/\s+/);
      return { local: port(local), peer: port(peer), recvQ: Number(recvQ) };
    });
}

/** Local ports of the client sockets connected to `serverPort` now. */
export async function clientPortsTo(serverPort: number): Promise<Set<number>> {
  return new Set((await established('dport', serverPort)).map((s) => s.local));
}

/**
 * True when the server side of each client socket (its port in `clientPorts`) is established and
 * has nothing left to read (Recv-Q 0): the server accepted it and read the request sent on it.
 */
export async function serverHasRead(serverPort: number, clientPorts: Iterable<number>): Promise<boolean> {
  const drained = new Set((await established('sport', serverPort)).filter((s) => s.recvQ === 0).map((s) => s.peer));
  return [...clientPorts].every((p) => drained.has(p));
}
