// PROXY protocol: the terraform load balancer sends it exactly when the ansible-deployed router
// expects it (docs/edge.md). A mismatch either way breaks every request, or makes every client
// look like the load balancer.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from '@cdktf/hcl2json';
import { parse as parseYaml } from 'yaml';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

async function terraformDefault(file: string, variable: string): Promise<unknown> {
  const json = (await parse(file, readFileSync(join(repo, file), 'utf8'))) as { variable?: Record<string, { default?: unknown }[]> };
  return json.variable?.[variable]?.[0]?.default;
}

t.test('terraform proxy_protocol_v2 and ansible accept_proxy defaults agree', async (t) => {
  const lb = await terraformDefault('terraform/modules/load_balancer/variables.tf', 'proxy_protocol_v2');
  const role = parseYaml(readFileSync(join(repo, 'ansible/roles/paas_router/defaults/main.yml'), 'utf8')) as Record<string, unknown>;
  t.type(lb, 'boolean', 'the terraform default is a boolean');
  t.equal(role.paas_router_haproxy_accept_proxy, lb, 'same default on both sides');
  t.equal(lb, true, 'the production default: real client addresses from the NLB');
  const example = parseYaml(readFileSync(join(repo, 'deploy/config.example.yaml'), 'utf8')) as { haproxy: { accept_proxy: unknown } };
  t.equal(example.haproxy.accept_proxy, lb, 'deploy/config.example.yaml documents the deployed value');
});

t.test('no environment overrides proxy_protocol_v2 to disagree', async (t) => {
  for (const env of ['production', 'staging']) {
    const json = (await parse('main.tf', readFileSync(join(repo, `terraform/environments/${env}/main.tf`), 'utf8'))) as {
      module?: Record<string, Record<string, unknown>[]>;
    };
    const lb = json.module?.load_balancer?.[0];
    t.ok(lb, `${env} uses the load_balancer module`);
    t.notOk(lb && 'proxy_protocol_v2' in lb, `${env} keeps the module default`);
  }
});
