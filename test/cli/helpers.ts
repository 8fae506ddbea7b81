// Shared by the CLI tests: run bin/paas-router.js (over dist/, built by `npm test`) as a user would.
import { execFile } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DevConsul } from '../../dev/consul/server.js';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths.js';

export const BIN = join(PACKAGE_ROOT, 'bin', 'paas-router.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, PAAS_ROUTER_CONFIG: '', CONSUL_HTTP_ADDR: '', ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

export async function kvGet(consulUrl: string, key: string): Promise<{ value: string; modifyIndex: number; createIndex: number } | undefined> {
  const res = await fetch(`${consulUrl}/v1/kv/${key}`);
  if (res.status === 404) return undefined;
  const [entry] = (await res.json()) as { Value: string | null; ModifyIndex: number; CreateIndex: number }[];
  return { value: Buffer.from(entry!.Value ?? '', 'base64').toString('utf8'), modifyIndex: entry!.ModifyIndex, createIndex: entry!.CreateIndex };
}

export async function kvPut(consulUrl: string, key: string, value: string): Promise<void> {
  const res = await fetch(`${consulUrl}/v1/kv/${key}`, { method: 'PUT', body: value });
  if (!res.ok) throw new Error(`PUT ${key}: HTTP ${res.status}`);
}

/**
 * A real HTTP hop in front of Consul that, before forwarding a check-and-set write, lets another
 * editor change the same key (as a colleague running `consul kv put` at that moment would).
 */
export async function startInterposer(consul: DevConsul, interfere: (key: string) => Promise<boolean>): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      if ((req.method === 'PUT' || req.method === 'DELETE') && url.searchParams.has('cas')) {
        await interfere(decodeURIComponent(url.pathname.replace(/^\/v1\/kv\//, '')));
      }
      const upstream = request(`${consul.url}${req.url}`, { method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      upstream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
