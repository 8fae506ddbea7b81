// Terraform checks. Providers cannot be downloaded here, so no `terraform init/validate`:
// instead `terraform fmt -check -recursive`, and every .tf file is parsed with an HCL parser
// (@cdktf/hcl2json) to check
//  - documentation: every variable has a description and a type, every output a description;
//  - wiring (what `terraform validate` would catch between our own files): module sources
//    exist, module calls pass every required variable and no unknown one, and references to
//    var./local./module.<x>.<output>/resources/data sources resolve;
//  - policy: no ingress open to the internet except HTTP/HTTPS (and the TCP app ports) on the
//    load balancer and OpenVPN on the bastion; SSH only from the bastion (and to the bastion
//    from validated admin networks); RDS only from the agents; RDS private, encrypted, with
//    backups; instances with IMDSv2 and encrypted disks;
//  - layout: modules and the two environments, remote state given by example.
// The policy checker is itself tested on a bad configuration, so it cannot pass vacuously.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from '@cdktf/hcl2json';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const tfRoot = join(repo, 'terraform');

type Json = Record<string, unknown>;
type Body = Record<string, unknown>;

interface Resource {
  kind: 'resource' | 'data';
  type: string;
  name: string;
  body: Body;
  file: string;
}
interface TfDir {
  dir: string; // relative to terraform/
  files: Map<string, Json>;
  variables: Map<string, Body>;
  outputs: Map<string, Body>;
  locals: Set<string>;
  modules: Map<string, Body>;
  resources: Resource[];
  terraformBlocks: Body[];
}

const WORLD = new Set(['0.0.0.0/0', '::/0']);

function first(v: unknown): Body {
  return (Array.isArray(v) ? (v[0] as Body | undefined) : (v as Body | undefined)) ?? {};
}

async function parseDir(absDir: string, rel: string, extraFiles: Record<string, string> = {}): Promise<TfDir> {
  const d: TfDir = {
    dir: rel,
    files: new Map(),
    variables: new Map(),
    outputs: new Map(),
    locals: new Set(),
    modules: new Map(),
    resources: [],
    terraformBlocks: [],
  };
  const sources: Record<string, string> = { ...extraFiles };
  if (absDir && existsSync(absDir)) {
    for (const f of readdirSync(absDir).filter((f) => f.endsWith('.tf'))) sources[f] = readFileSync(join(absDir, f), 'utf8');
  }
  for (const [f, text] of Object.entries(sources)) {
    const json = (await parse(f, text)) as Json;
    d.files.set(f, json);
    for (const [name, v] of Object.entries((json.variable as Json | undefined) ?? {})) d.variables.set(name, first(v));
    for (const [name, v] of Object.entries((json.output as Json | undefined) ?? {})) d.outputs.set(name, first(v));
    for (const l of (json.locals as Body[] | undefined) ?? []) for (const k of Object.keys(l)) d.locals.add(k);
    for (const [name, v] of Object.entries((json.module as Json | undefined) ?? {})) d.modules.set(name, first(v));
    for (const kind of ['resource', 'data'] as const) {
      for (const [type, byName] of Object.entries((json[kind] as Json | undefined) ?? {})) {
        for (const [name, v] of Object.entries(byName as Json)) {
          for (const body of v as Body[]) d.resources.push({ kind, type, name, body, file: f });
        }
      }
    }
    for (const tb of (json.terraform as Body[] | undefined) ?? []) d.terraformBlocks.push(tb);
  }
  return d;
}

// --- helpers over expressions -----------------------------------------------------------

// Every "${...}" expression string anywhere in a value.
function expressions(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') {
    if (v.includes('${')) out.push(v);
  } else if (Array.isArray(v)) {
    for (const x of v) expressions(x, out);
  } else if (v && typeof v === 'object') {
    for (const x of Object.values(v)) expressions(x, out);
  }
  return out;
}

function varRefs(expr: string): string[] {
  return [...expr.matchAll(/\bvar\.([A-Za-z_][\w-]*)/g)].map((m) => m[1]!);
}

function numberOf(v: unknown): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return null;
}

function validationText(variable: Body | undefined): string {
  return ((variable?.validation as Body[] | undefined) ?? []).map((x) => String(x.condition)).join(' ');
}

function defaultIncludesWorld(variable: Body | undefined): boolean {
  const def = variable?.default;
  const values = Array.isArray(def) ? def : [def];
  return values.some((x) => typeof x === 'string' && WORLD.has(x));
}

// --- documentation ----------------------------------------------------------------------

function checkDocs(d: TfDir): string[] {
  const v: string[] = [];
  for (const [name, body] of d.variables) {
    if (typeof body.description !== 'string' || body.description.trim() === '') v.push(`${d.dir}: variable "${name}" has no description`);
    if (body.type === undefined) v.push(`${d.dir}: variable "${name}" has no type`);
  }
  for (const [name, body] of d.outputs) {
    if (typeof body.description !== 'string' || body.description.trim() === '') v.push(`${d.dir}: output "${name}" has no description`);
  }
  return v;
}

// --- policy -------------------------------------------------------------------------------

// Public ingress allowed by design (resource name in the security_groups module -> rule).
const ALLOWED_PUBLIC: Record<string, { protocol: string; ports: (r: Body, d: TfDir) => string | null }> = {
  lb_http: { protocol: 'tcp', ports: (r) => (r.from_port === 80 && r.to_port === 80 ? null : 'must be port 80') },
  lb_https: { protocol: 'tcp', ports: (r) => (r.from_port === 443 && r.to_port === 443 ? null : 'must be port 443') },
  lb_tcp_apps: {
    protocol: 'tcp',
    ports: (r, d) => {
      const refs = varRefs(String(r.for_each ?? ''));
      if (refs.length !== 1 || refs[0] !== 'tcp_app_ports') return 'ports must come from var.tcp_app_ports';
      return /10000/.test(validationText(d.variables.get('tcp_app_ports'))) && /10999/.test(validationText(d.variables.get('tcp_app_ports')))
        ? null
        : 'var.tcp_app_ports must be validated to 10000-10999';
    },
  },
  bastion_openvpn: {
    protocol: 'udp',
    ports: (r, d) => {
      const port = numberOf(r.from_port) ?? numberOf(d.variables.get(varRefs(String(r.from_port))[0] ?? '')?.default);
      return port === 1194 || port === 443 ? null : 'OpenVPN must listen on 1194 (or 443)';
    },
  },
};

interface CidrSource {
  text: string;
  vars: string[];
  literal: string | null;
}

function cidrSources(r: Body): CidrSource[] {
  const out: CidrSource[] = [];
  for (const key of ['cidr_ipv4', 'cidr_ipv6', 'cidr_blocks', 'ipv6_cidr_blocks']) {
    const raw = r[key];
    if (raw === undefined) continue;
    for (const item of Array.isArray(raw) ? raw : [raw]) {
      const text = String(item);
      if (!text.includes('${')) {
        out.push({ text, vars: [], literal: text });
        continue;
      }
      // each.value / each.key / each.value.x: the set comes from for_each.
      const vars = /\beach\./.test(text) ? varRefs(String(r.for_each ?? '')) : varRefs(text);
      out.push({ text, vars, literal: null });
    }
  }
  return out;
}

function coversPort(r: Body, port: number): boolean {
  if (r.ip_protocol === '-1' || r.protocol === '-1' || r.protocol === 'all') return true;
  const from = numberOf(r.from_port);
  const to = numberOf(r.to_port);
  if (from === null || to === null) return false; // computed ports: checked by their own rules
  return from <= port && port <= to;
}

// Variables that can carry CIDR blocks (strings); bool/number variables in a for_each
// condition (e.g. `var.enabled ? toset(var.cidrs) : toset([])`) are not sources.
function cidrVars(names: string[], d: TfDir): string[] {
  return names.filter((n) => !/^\$\{(bool|number)\}$/.test(String(d.variables.get(n)?.type ?? '')));
}

function checkPolicy(d: TfDir): string[] {
  const v: string[] = [];
  for (const res of d.resources) {
    const where = `${d.dir}: ${res.type}.${res.name}`;
    const r = res.body;

    if (res.kind === 'resource' && res.type === 'aws_security_group' && r.ingress !== undefined) {
      v.push(`${where}: inline ingress blocks are not allowed (use aws_vpc_security_group_ingress_rule)`);
    }
    if (res.kind === 'resource' && res.type === 'aws_security_group_rule') {
      v.push(`${where}: use aws_vpc_security_group_ingress_rule/egress_rule (one rule per resource)`);
    }

    if (res.kind === 'resource' && res.type === 'aws_vpc_security_group_ingress_rule') {
      const sources = cidrSources(r).map((s) => ({ ...s, vars: cidrVars(s.vars, d) }));
      const referenced = typeof r.referenced_security_group_id === 'string' ? r.referenced_security_group_id : null;
      if (!referenced && sources.length === 0 && r.prefix_list_id === undefined) v.push(`${where}: ingress rule without a source`);
      let isPublic = false;
      for (const s of sources) {
        if (s.literal !== null) {
          if (WORLD.has(s.literal)) isPublic = true;
          continue;
        }
        if (s.vars.length === 0) {
          v.push(`${where}: CIDR source ${s.text} cannot be checked (use a validated variable)`);
          continue;
        }
        for (const name of s.vars) {
          const variable = d.variables.get(name);
          if (!variable) {
            v.push(`${where}: CIDR variable ${name} is not declared`);
            continue;
          }
          if (defaultIncludesWorld(variable)) isPublic = true;
          else if (!validationText(variable).includes('0.0.0.0/0')) v.push(`${where}: CIDR variable ${name} must have a validation that rejects 0.0.0.0/0`);
        }
      }
      if (isPublic) {
        const allowed = ALLOWED_PUBLIC[res.name];
        if (!allowed || !d.dir.endsWith('security_groups')) {
          v.push(`${where}: ingress open to the internet is only allowed for HTTP/HTTPS/TCP apps on the load balancer and OpenVPN on the bastion`);
        } else {
          if (r.ip_protocol !== allowed.protocol) v.push(`${where}: protocol must be ${allowed.protocol}`);
          const err = allowed.ports(r, d);
          if (err) v.push(`${where}: ${err}`);
          const sg = String(r.security_group_id ?? '');
          if (res.name.startsWith('lb_') && !sg.includes('aws_security_group.lb.')) v.push(`${where}: must be on the load balancer's security group`);
          if (res.name.startsWith('bastion_') && !sg.includes('aws_security_group.bastion.')) v.push(`${where}: must be on the bastion's security group`);
        }
      }
      // SSH: only from the bastion; the bastion itself from validated admin networks.
      if (coversPort(r, 22)) {
        const fromBastion = referenced?.includes('aws_security_group.bastion.') ?? false;
        const toBastion = String(r.security_group_id ?? '').includes('aws_security_group.bastion.');
        if (!fromBastion && !(toBastion && !isPublic && sources.length > 0)) {
          v.push(`${where}: SSH must come from the bastion (or reach the bastion from validated admin networks)`);
        }
        if (isPublic) v.push(`${where}: SSH must never be open to the internet`);
      }
      // RDS: only from the agents (or the peered environment's private subnets).
      if (String(r.security_group_id ?? '').includes('aws_security_group.rds.')) {
        const fromAgents = referenced?.includes('aws_security_group.agents.') ?? false;
        const fromPeer = sources.length > 0 && sources.every((s) => s.literal === null && s.vars.length > 0 && s.vars.every((n) => n === 'peer_cidr_blocks'));
        if (!fromAgents && !fromPeer) v.push(`${where}: RDS must be reachable from the Mesos agents only`);
      }
    }

    if (res.kind === 'resource' && res.type === 'aws_db_instance') {
      if (r.publicly_accessible !== false) v.push(`${where}: publicly_accessible must be false`);
      if (r.storage_encrypted !== true) v.push(`${where}: storage_encrypted must be true`);
      const brp = r.backup_retention_period;
      const n = numberOf(brp);
      if (n !== null) {
        if (n <= 0) v.push(`${where}: backup_retention_period must be > 0`);
      } else {
        const refs = varRefs(String(brp ?? ''));
        const variable = refs.length === 1 ? d.variables.get(refs[0]!) : undefined;
        if (!variable) v.push(`${where}: backup_retention_period must be a number > 0 or a validated variable`);
        else {
          const def = numberOf(variable.default);
          if (variable.default !== undefined && (def === null || def <= 0)) v.push(`${where}: var.${refs[0]} default must be > 0`);
          if (!/>=\s*1\b|>\s*0\b/.test(validationText(variable))) v.push(`${where}: var.${refs[0]} must be validated > 0`);
        }
      }
      if (r.deletion_protection === false) v.push(`${where}: deletion_protection must not be false`);
      if (r.skip_final_snapshot === true) v.push(`${where}: skip_final_snapshot must not be true`);
      if (typeof r.password === 'string' && !r.password.includes('${')) v.push(`${where}: literal password`);
    }

    if (res.kind === 'resource' && (res.type === 'aws_instance' || res.type === 'aws_launch_template')) {
      if (first(r.metadata_options).http_tokens !== 'required') v.push(`${where}: IMDSv2 required (metadata_options.http_tokens = "required")`);
      if (r.associate_public_ip_address === true) v.push(`${where}: no automatic public address (use an Elastic IP on purpose)`);
    }
    if (res.kind === 'resource' && res.type === 'aws_instance' && first(r.root_block_device).encrypted !== true) {
      v.push(`${where}: root volume must be encrypted`);
    }
    if (res.kind === 'resource' && res.type === 'aws_launch_template') {
      const mappings = (r.block_device_mappings as Body[] | undefined) ?? [];
      if (mappings.length === 0 || mappings.some((m) => first(m.ebs).encrypted !== true)) v.push(`${where}: EBS volumes must be encrypted`);
    }
    if (res.kind === 'resource' && res.type === 'aws_ebs_volume' && r.encrypted !== true) v.push(`${where}: volume must be encrypted`);
  }
  return v;
}

// --- wiring -------------------------------------------------------------------------------

const META_ARGS = new Set(['source', 'version', 'providers', 'depends_on', 'count', 'for_each']);

function checkReferences(d: TfDir, modulesByDir: Map<string, TfDir>): string[] {
  const v: string[] = [];
  const resourceKeys = new Set(d.resources.map((r) => `${r.kind === 'data' ? 'data.' : ''}${r.type}.${r.name}`));
  for (const [file, json] of d.files) {
    for (const expr of expressions(json)) {
      for (const name of varRefs(expr)) if (!d.variables.has(name)) v.push(`${d.dir}/${file}: var.${name} is not declared`);
      for (const m of expr.matchAll(/\blocal\.([A-Za-z_]\w*)/g)) if (!d.locals.has(m[1]!)) v.push(`${d.dir}/${file}: local.${m[1]} is not declared`);
      for (const m of expr.matchAll(/\bmodule\.([A-Za-z_]\w*)\.([A-Za-z_]\w*)/g)) {
        const call = d.modules.get(m[1]!);
        if (!call) {
          v.push(`${d.dir}/${file}: module.${m[1]} is not declared`);
          continue;
        }
        const target = modulesByDir.get(resolve(tfRoot, d.dir, String(call.source)));
        if (target && !target.outputs.has(m[2]!)) v.push(`${d.dir}/${file}: module.${m[1]} has no output ${m[2]}`);
      }
      for (const m of expr.matchAll(/(?<![\w.])(data\.)?(aws_[a-z0-9_]+)\.([A-Za-z_]\w*)/g)) {
        const key = `${m[1] ?? ''}${m[2]}.${m[3]}`;
        if (!resourceKeys.has(key)) v.push(`${d.dir}/${file}: ${key} is not declared`);
      }
    }
  }
  for (const [name, call] of d.modules) {
    const src = String(call.source ?? '');
    const abs = resolve(tfRoot, d.dir, src);
    const target = modulesByDir.get(abs);
    if (!src.startsWith('../') || !target) {
      v.push(`${d.dir}: module "${name}" source ${src} is not a module of this repository`);
      continue;
    }
    for (const arg of Object.keys(call)) {
      if (!META_ARGS.has(arg) && !target.variables.has(arg)) v.push(`${d.dir}: module "${name}" passes unknown argument ${arg}`);
    }
    for (const [vn, vb] of target.variables) {
      if (!('default' in vb) && !(vn in call)) v.push(`${d.dir}: module "${name}" misses required variable ${vn}`);
    }
  }
  return v;
}

function checkVersions(d: TfDir): string[] {
  const v: string[] = [];
  const tb = d.terraformBlocks.find((b) => b.required_providers !== undefined);
  if (!tb) return [`${d.dir}: no terraform { required_providers } block`];
  if (typeof tb.required_version !== 'string') v.push(`${d.dir}: no required_version`);
  const aws = first(first(tb.required_providers).aws);
  if (aws.source !== 'hashicorp/aws' || typeof aws.version !== 'string') v.push(`${d.dir}: aws provider must be hashicorp/aws with a version constraint`);
  return v;
}

// --- load the tree ------------------------------------------------------------------------

function tfDirs(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    const entries = readdirSync(dir);
    if (entries.some((e) => e.endsWith('.tf'))) out.push(dir);
    for (const e of entries) {
      const p = join(dir, e);
      if (statSync(p).isDirectory() && !e.startsWith('.')) walk(p);
    }
  };
  walk(tfRoot);
  return out;
}

function which(bin: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
}

const terraformEnv: NodeJS.ProcessEnv = { ...process.env, TF_IN_AUTOMATION: '1' };
if (terraformEnv.TF_CLI_CONFIG_FILE && !existsSync(terraformEnv.TF_CLI_CONFIG_FILE)) delete terraformEnv.TF_CLI_CONFIG_FILE;

t.test('terraform fmt -check -recursive', async (t) => {
  if (!which('terraform')) return t.fail('terraform not found on PATH (terraform 1.x, installed at /usr/local/bin/terraform on these machines)');
  const version = spawnSync('terraform', ['version'], { encoding: 'utf8', env: terraformEnv });
  t.match(version.stdout, /Terraform v1\./, 'terraform 1.x');
  const r = spawnSync('terraform', ['fmt', '-check', '-recursive', '-diff'], { cwd: tfRoot, encoding: 'utf8', env: terraformEnv });
  t.equal(r.status, 0, `terraform fmt -check -recursive\n${r.stdout}\n${r.stderr}`);
});

t.test('every .tf file parses, is documented, wired and follows the security policy', async (t) => {
  const dirs = tfDirs();
  t.ok(dirs.length >= 13, `found ${dirs.length} terraform directories`);
  const parsed = new Map<string, TfDir>();
  for (const abs of dirs) parsed.set(abs, await parseDir(abs, relative(tfRoot, abs)));

  for (const d of parsed.values()) {
    t.same(checkDocs(d), [], `${d.dir}: variables and outputs documented`);
    t.same(checkPolicy(d), [], `${d.dir}: security policy`);
    t.same(checkReferences(d, parsed), [], `${d.dir}: references and module calls resolve`);
    t.same(checkVersions(d), [], `${d.dir}: terraform and provider versions pinned`);
  }

  const modules = readdirSync(join(tfRoot, 'modules')).sort();
  for (const m of ['network', 'security_groups', 'masters', 'agents', 'consul_servers', 'bastion', 'rds', 'load_balancer', 'iam']) {
    t.ok(modules.includes(m), `module ${m} exists`);
  }
  for (const m of modules) {
    for (const f of ['main.tf', 'variables.tf', 'outputs.tf', 'versions.tf']) t.ok(existsSync(join(tfRoot, 'modules', m, f)), `modules/${m}/${f}`);
  }
});

t.test('environments compose the modules and configure remote state by example', async (t) => {
  const expected: Record<string, string[]> = {
    production: ['network', 'security_groups', 'iam', 'bastion', 'masters', 'agents', 'consul_servers', 'rds', 'load_balancer', 'jenkins'],
    staging: ['network', 'security_groups', 'iam', 'bastion', 'masters', 'agents', 'load_balancer', 'vpc_peering'],
  };
  for (const [env, mods] of Object.entries(expected)) {
    const dir = join(tfRoot, 'environments', env);
    const d = await parseDir(dir, `environments/${env}`);
    const used = new Set([...d.modules.values()].map((c) => String(c.source).split('/').pop()));
    for (const m of mods) t.ok(used.has(m), `${env} uses module ${m}`);
    t.notOk(
      d.terraformBlocks.some((b) => b.backend !== undefined),
      `${env}: no live backend block committed (backend.tf.example instead)`,
    );
    t.notOk(existsSync(join(dir, 'backend.tf')), `${env}: backend.tf is not committed`);
    const example = (await parse('backend.tf.example', readFileSync(join(dir, 'backend.tf.example'), 'utf8'))) as Json;
    const s3 = first(first(first(example.terraform as Body[]).backend).s3);
    t.equal(s3.encrypt, true, `${env}: S3 state encrypted`);
    t.ok(s3.use_lockfile === true || typeof s3.dynamodb_table === 'string', `${env}: state locking`);
    t.match(String(s3.key), new RegExp(`^${env}/`), `${env}: own state key`);
  }
  const prod = await parseDir(join(tfRoot, 'environments/production'), 'environments/production');
  const engines = [...prod.modules.values()]
    .filter((c) => String(c.source).endsWith('/rds'))
    .map((c) => c.engine)
    .sort();
  t.same(engines, ['mysql', 'postgres'], 'production has the shared PostgreSQL and MySQL');
});

// The checker must catch what it claims to catch.
const BAD = `
variable "undocumented" {}
variable "open" {
  description = "CIDRs"
  type        = list(string)
  default     = ["0.0.0.0/0"]
}
resource "aws_security_group" "consul" {
  name = "x"
  ingress {
    from_port   = 8500
    to_port     = 8500
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
resource "aws_vpc_security_group_ingress_rule" "consul_http" {
  security_group_id = aws_security_group.consul.id
  ip_protocol       = "tcp"
  from_port         = 8500
  to_port           = 8500
  cidr_ipv4         = "0.0.0.0/0"
}
resource "aws_vpc_security_group_ingress_rule" "ssh_world" {
  for_each          = toset(var.open)
  security_group_id = aws_security_group.consul.id
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv4         = each.value
}
resource "aws_security_group" "rds" {
  name = "rds"
}
resource "aws_vpc_security_group_ingress_rule" "rds_vpc" {
  security_group_id = aws_security_group.rds.id
  ip_protocol       = "tcp"
  from_port         = 5432
  to_port           = 5432
  cidr_ipv4         = "10.0.0.0/16"
}
resource "aws_db_instance" "db" {
  publicly_accessible     = true
  storage_encrypted       = false
  backup_retention_period = 0
  password                = "hunter2"
}
resource "aws_instance" "i" {
  ami = "ami-1"
}
output "nodesc" {
  value = var.missing
}
`;

t.test('the policy checker rejects a bad configuration', async (t) => {
  const d = await parseDir('', 'bad', { 'main.tf': BAD });
  const docs = checkDocs(d).join('\n');
  t.match(docs, /variable "undocumented" has no description/);
  t.match(docs, /variable "undocumented" has no type/);
  t.match(docs, /output "nodesc" has no description/);
  const policy = checkPolicy(d).join('\n');
  t.match(policy, /aws_security_group\.consul: inline ingress blocks are not allowed/);
  t.match(policy, /consul_http: ingress open to the internet is only allowed/);
  t.match(policy, /ssh_world: SSH must never be open to the internet/);
  t.match(policy, /rds_vpc: RDS must be reachable from the Mesos agents only/);
  t.match(policy, /publicly_accessible must be false/);
  t.match(policy, /storage_encrypted must be true/);
  t.match(policy, /backup_retention_period must be > 0/);
  t.match(policy, /literal password/);
  t.match(policy, /aws_instance\.i: IMDSv2 required/);
  t.match(policy, /aws_instance\.i: root volume must be encrypted/);
  const refs = checkReferences(d, new Map()).join('\n');
  t.match(refs, /var\.missing is not declared/);
});
