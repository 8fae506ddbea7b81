// consul.max_connections when the operator sets none. Over https the reads become HTTP/2 streams
// (250 per connection on Consul 1.8): 64 connections, 62 of them HTTP/2 beside the writes' 2, hold
// 15 500 blocking watches, 10 000 services with room to spare, and stay far under the agent's
// default limit of 200 per client. Over http, a blocking query holds a socket: 32, half for the reads,
// 8 for the change detectors and the K/V prefixes, 8 for watches of services that changed
// (client.ts: recentWatchSlots; docs/consul.md).
export function defaultMaxConnections(address: string): number {
  return address.startsWith('https:') ? 64 : 32;
}
