// Shared plumbing for CLI commands: config loading from the global flags, exit codes.
import type { Command } from 'commander';
import { ConfigError, RouterError, TemplateError, UsageError, errorMessage } from '../errors.js';
import { loadConfig, type ConfigFlags } from '../config/load.js';
import type { Config } from '../config/config.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Adds the config-related flags every command understands. */
export function withConfigFlags(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'config file (default /etc/paas-router/config.yaml, or $PAAS_ROUTER_CONFIG)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent')
    .option('--consul-addr <addr>', 'Consul HTTP address (overrides CONSUL_HTTP_ADDR)')
    .option('--config-dir <dir>', 'directory for haproxy.cfg and hosts.map (haproxy.config_dir)')
    .option('--templates-dir <dir>', 'templates directory (templates_dir)');
}

export function configFromOptions(opts: Record<string, unknown>): Promise<Config> {
  const flags: ConfigFlags = {
    config: opts.config as string | undefined,
    logLevel: opts.logLevel as string | undefined,
    consulAddr: opts.consulAddr as string | undefined,
    configDir: opts.configDir as string | undefined,
    templatesDir: opts.templatesDir as string | undefined,
  };
  return loadConfig(flags);
}

/** Bad input (config, flags, arguments, templates) exits 2; everything else that fails exits 1. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof ConfigError || err instanceof UsageError || err instanceof TemplateError) return EXIT_USAGE;
  return EXIT_FAILURE;
}

export function printError(err: unknown): void {
  const code = err instanceof RouterError ? `${err.code}: ` : '';
  process.stderr.write(`paas-router: ${code}${errorMessage(err)}\n`);
}
