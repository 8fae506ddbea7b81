// tcp apps compete for frontend ports: the app registered first keeps its port.
import type { Rejection } from './types.js';
import { reject } from './rejections.js';
import { cmp, numCmp } from './text.js';

export interface TcpClaim {
  app: string;
  port: number;
  /** min(instance.createIndex); Infinity when Consul did not report one. */
  createIndex: number;
}

/** Returns the apps that keep their port; every other claimant gets a 'conflict' rejection. */
export function resolveTcpPorts(claims: TcpClaim[]): { winners: Set<string>; rejections: Rejection[] } {
  const byPort = new Map<number, TcpClaim[]>();
  for (const c of claims) byPort.set(c.port, [...(byPort.get(c.port) ?? []), c]);
  const winners = new Set<string>();
  const rejections: Rejection[] = [];
  for (const [port, list] of byPort) {
    // Earliest registration wins so that a newly deployed app can never steal a running app's port.
    list.sort((a, b) => numCmp(a.createIndex, b.createIndex) || cmp(a.app, b.app));
    const [winner, ...losers] = list;
    winners.add(winner!.app);
    for (const loser of losers) {
      rejections.push(
        reject('conflict', loser.app, `router.port=${port}`, `port ${port} is already used by tcp app ${winner!.app}, registered first; app not routed`),
      );
    }
  }
  return { winners, rejections };
}
