// The config file's shape (docs/configuration.md): snake_case as operators write it, every key defaulted.
import { z } from 'zod';
import { PEER_NAME_RE } from '../model/peers.js';
import { isIP } from 'node:net';
import { parseDuration } from './duration.js';
import { CIPHER_LIST_RE, DEFAULT_SSL_CIPHERS, DEFAULT_SSL_CIPHERSUITES } from './edge-defaults.js';
import { parsePortRange } from '../model/port-ranges.js';
import { cidrProblem } from '../util/cidr.js';

/** `haproxy.cache_max_size` → MiB: `<n>m`, `<n>g` (at most 64g), or 0 / `0`. */
export function parseCacheMaxSize(v: string | number): number | undefined {
  if (v === 0 || v === '0') return 0;
  if (typeof v !== 'string') return undefined;
  const m = /^([1-9][0-9]{0,5})([mg])$/.exec(v.toLowerCase());
  if (!m) return undefined;
  const mb = Number(m[1]) * (m[2] === 'g' ? 1024 : 1);
  return mb <= 64 * 1024 ? mb : undefined;
}

const duration = z.string().refine((v) => parseDuration(v) !== undefined, {
  message: 'must be a duration like 50ms, 1s, 5m',
});
const port = z.number().int().min(1).max(65535);
const url = z.string().refine((v) => /^https?:\/\/[^\s/]+/.test(v), {
  message: 'must be an http:// or https:// URL',
});
const kvPrefix = z
  .string()
  .min(1)
  .refine((v) => v.endsWith('/') && !v.startsWith('/'), {
    message: 'must end with "/" and must not start with "/"',
  });

// `haproxy.*` keys of the production edge (docs/edge.md).
const cipherList = z.string().regex(CIPHER_LIST_RE, 'must be an OpenSSL cipher list (names separated by ":")');
const cidr = z.string().superRefine((v, ctx) => {
  const problem = cidrProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
const portRange = z
  .union([port.transform(String), z.string()])
  .refine((v) => parsePortRange(v) !== undefined, { message: 'must be a port or a range of ports "<from>-<to>" within 1-65535, e.g. 10000-10999' });
const edgeKeys = {
  /** Address of the stats listener; loopback by default (reach it through the bastion). */
  stats_bind_address: z
    .string()
    .refine((v) => v === '*' || isIP(v.replace(/^\[|\]$/g, '')) !== 0, { message: 'must be "*" or an IP address' })
    .default('127.0.0.1'),
  /** Peers whose X-Forwarded-For / Forwarded headers are kept (the router appends the client address). */
  trusted_proxies: z.array(cidr).max(400).default([]),
  /** Networks instances may be in (e.g. the Mesos agents' subnets); empty: any network. */
  backend_networks: z.array(cidr).max(400).default([]),
  /** Every public bind takes PROXY protocol v1/v2 (the terraform NLB's proxy_protocol_v2). */
  accept_proxy: z.boolean().default(false),
  /** The ports `router.port` may take. */
  tcp_ports: z.array(portRange).min(1, 'must list at least one port range').default(['10000-10999']),
  /** Global `maxconn`. */
  maxconn: z.number().int().min(1).max(1_000_000).default(4096),
  ssl_min_ver: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
  ssl_ciphers: cipherList.default(DEFAULT_SSL_CIPHERS),
  ssl_ciphersuites: cipherList.default(DEFAULT_SSL_CIPHERSUITES),
};

const vaultAuth = z.discriminatedUnion('method', [
  z.object({ method: z.literal('token') }).strict(),
  z
    .object({
      method: z.literal('approle'),
      role_id: z.string().min(1),
      secret_id_file: z.string().min(1),
      mount: z.string().default('approle'),
    })
    .strict(),
]);

export const fileSchema = z
  .object({
    cluster: z
      .string()
      .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be one lowercase DNS label')
      .default('production'),
    base_domain: z
      .string()
      .regex(/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a lowercase DNS name')
      .default('mozilla.community'),
    consul: z
      .object({
        address: url.default('http://127.0.0.1:8500'),
        token: z.string().default(''),
        cacert: z.string().default(''),
        domains_prefix: kvPrefix.default('paas-router/domains/'),
        service_id_prefixes: z.array(z.string().min(1)).min(1).default(['mesos-consul:']),
        wait: duration.default('5m'),
        min_interval: duration.default('100ms'),
        retry_max: duration.default('10s'),
        // Second wave: group weights and maintenance pages (docs/features.md).
        weights_prefix: kvPrefix.default('paas-router/weights/'),
        maintenance_prefix: kvPrefix.default('paas-router/maintenance/'),
        // Third wave: who owns each shared name, and the paths owners give away (docs/routing.md).
        claims_prefix: kvPrefix.default('paas-router/claims/'),
        paths_prefix: kvPrefix.default('paas-router/paths/'),
        claim_grace: duration.default('1h'),
        // Connection budget and read consistency (docs/consul.md).
        max_connections: z
          .number()
          .int()
          .min(16, 'must be at least 16 (8 blocking watches: catalog, critical, warning, domains, weights, maintenance, claims, paths; the rest for reads)')
          .max(1000)
          .optional(), // unset: 16 over http://, 64 over https:// (src/sources/consul/budget.ts)
        consistency: z.enum(['default', 'stale', 'consistent']).default('default'),
      })
      .strict()
      .prefault({}),
    vault: z
      .object({
        address: z.union([z.literal(''), url]).default(''),
        kv_prefix: kvPrefix
          .refine((v) => v.indexOf('/data/') > 0, { message: 'must be a KV v2 data path: <mount>/data/<path>/' })
          .default('secret/data/paas-router/'),
        cacert: z.string().default(''),
        namespace: z.string().default(''),
        auth: vaultAuth.default({ method: 'token' }),
        /** How often the secrets are read again (Vault has no blocking queries for KV). */
        refresh: duration.default('30s'),
        /** Renew the token this long before it expires (at most a third of its TTL). */
        renew_before: duration.default('5m'),
        /** Upper bound of the backoff after a failed read or login. */
        retry_max: duration.default('30s'),
        /** Per-request timeout. */
        timeout: duration.default('10s'),
      })
      .strict()
      .prefault({}),
    haproxy: z
      .object({
        config_dir: z.string().min(1).default('/etc/haproxy/paas-router'),
        bin: z.string().min(1).default('haproxy'),
        master_socket: z.string().min(1).default('/run/haproxy-master.sock'),
        runtime_socket: z.string().min(1).default('/run/haproxy/paas-router.sock'),
        runtime_socket_group: z
          .string()
          .regex(/^([a-z_][a-z0-9_-]{0,31})?$/, 'must be a group name')
          .default(''),
        /** User and group of HAProxy's workers (the master stays root); '' = do not change. */
        user: z
          .string()
          .regex(/^([a-z_][a-z0-9_-]{0,31})?$/, 'must be a user name, or "" to keep the user HAProxy was started as')
          .default('haproxy'),
        group: z
          .string()
          .regex(/^([a-z_][a-z0-9_-]{0,31})?$/, 'must be a group name, or "" to keep the group HAProxy was started as')
          .default('haproxy'),
        bind_address: z.string().min(1).default('*'),
        http_port: port.default(80),
        https_port: port.default(443),
        stats_port: port.default(8404),
        hard_stop_after: duration.default('30s'),
        max_old_workers: z.number().int().min(1).max(100).default(3),
        reload_timeout: duration.default('10s'),
        /** Pre-rendered default backends a brand-new app takes without a reload (0: off). */
        spare_backends: z.number().int().min(0).max(1000).default(16),
        /** Quiet time after which apps on spare backends get their own backend (one validated reload). */
        spare_settle: duration.refine((v) => parseDuration(v)! >= 1_000, { message: 'must be at least 1s' }).default('5m'),
        /**
         * What the router.cache sizes of all apps may add up to (HAProxy shared memory, reserved at
         * start): <n>m or <n>g, at most 64g; 0 turns every app's cache off.
         */
        cache_max_size: z
          .union([z.number(), z.string()])
          .refine((v) => parseCacheMaxSize(v) !== undefined, {
            message: 'must be a size <integer>m or <integer>g (MiB, GiB) of at most 64g, e.g. 256m, or 0 (no app may have a cache)',
          })
          .default('256m'),
        /** The routers of a cluster share rate-limit counters through HAProxy `peers` (docs/features.md). */
        peers: z
          .object({
            /** Port of this router's peers listener, registered in Consul as service `paas-router`; 0: off. */
            port: z.number().int().min(0).max(65535).default(8405),
            /** Address it listens on and is registered with; '' = the node's address as its Consul agent knows it. */
            bind_address: z
              .string()
              .refine((v) => v === '' || isIP(v) !== 0, { message: 'must be an IP address, or "" for the node address' })
              .default(''),
            /** This router's peer name, unique in the cluster; default: the host name. */
            name: z.string().regex(PEER_NAME_RE, 'must be 1-63 characters A-Z a-z 0-9 _ . - (a host name)').optional(),
          })
          .strict()
          .prefault({}),
        ...edgeKeys,
      })
      .strict()
      .prefault({}),
    guard: z
      .object({
        max_shrink: z.number().min(0).max(1).default(0.5),
        confirm_after: duration.default('15s'),
      })
      .strict()
      .prefault({}),
    templates_dir: z.string().min(1).optional(),
    wait: z
      .object({ min: duration.default('50ms'), max: duration.default('1s') })
      .strict()
      .prefault({}),
    listen: z
      .string()
      .regex(/^[^\s]+:\d{1,5}$/, 'must be host:port')
      .default('127.0.0.1:9107'),
    // user:scrypt-hash lines (`paas-router passwd`); required when `listen` is not a loopback address.
    listen_auth_file: z.string().default(''),
    // Host names the status listener answers (DNS rebinding); empty: `listen` itself and loopback names.
    listen_hosts: z
      .array(z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/, 'must be a host name, an IPv4 address or [IPv6], with an optional :port'))
      .default([]),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    // Traffic sampled from HAProxy's `show stat` (docs/traffic.md).
    traffic: z
      .object({ interval: duration.default('5s'), window: duration.default('15m') })
      .strict()
      .prefault({}),
    metrics: z
      .object({ per_app: z.boolean().default(false) })
      .strict()
      .prefault({}),
    // ACME (docs/acme.md): certificates for every custom domain; an empty directory_url = off.
    acme: z
      .object({
        directory_url: z.union([z.literal(''), z.string().regex(/^https:\/\/[^\s/]+/, 'must be an https:// URL')]).default(''),
        email: z.union([z.literal(''), z.string().regex(/^[^\s@]+@[^\s@]+$/, 'must be an e-mail address')]).default(''),
        cacert: z.string().default(''),
        renew_before: duration.default('30d'),
        max_orders_per_hour: z.number().int().min(1).max(300).default(20),
        consul_prefix: kvPrefix.default('paas-router/acme/'),
        challenge_port: port.default(80),
        dns_resolver: z.union([z.literal(''), z.string().regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port')]).default(''),
        retry_base: duration.default('5m'),
        session_ttl: duration
          .refine((v) => parseDuration(v)! >= 10_000 && parseDuration(v)! <= 86_400_000, { message: 'must be between 10s and 24h (Consul session TTL)' })
          .default('30s'),
        lock_delay: duration.default('15s'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type FileConfig = z.infer<typeof fileSchema>;
