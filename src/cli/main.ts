// `paas-router <command>`: a thin commander front over the daemon's modules.
import { Command, CommanderError } from 'commander';
import { UsageError } from '../errors.js';
import { createLogger } from '../log.js';
import { startDaemon } from '../daemon.js';
import { createNotifier } from '../systemd/notify.js';
import { runService } from '../systemd/service.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, configFromOptions, exitCodeFor, printError, withConfigFlags } from './common.js';
import { domainsAdd, domainsList, domainsRemove } from './domains.js';
import { domainsOwners, domainsTransfer } from './owners.js';
import { explainCommand } from './explain.js';
import { explainMarathonCommand } from './explain-marathon.js';
import { maintenanceOff, maintenanceOn } from './maintenance.js';
import { weightsGet, weightsSet } from './weights.js';
import { passwdCommand } from './passwd.js';
import { checkCommand, renderCommand } from './render.js';
import { loadDevCluster } from './dev-entry.js';

const program = new Command('paas-router')
  .description('Routes Marathon apps registered in Consul through HAProxy, with custom domains from Consul K/V.')
  .exitOverride()
  .showHelpAfterError();

withConfigFlags(program.command('run'))
  .description('run the daemon: watch Consul, render, validate and apply the HAProxy configuration')
  .action(async (opts) => {
    // systemd: sd_notify READY/WATCHDOG/STATUS/RELOADING/STOPPING; SIGHUP re-reads the config
    // file; SIGTERM stops cleanly and leaves HAProxy serving. See src/systemd/service.ts.
    const code = await runService({
      loadConfig: () => configFromOptions(opts),
      createLogger: (config) => createLogger(config.logLevel),
      startDaemon,
      notifier: createNotifier({ log: createLogger(process.env.PAAS_ROUTER_LOG_LEVEL ?? 'info') }),
    });
    process.exit(code);
  });

withConfigFlags(program.command('render'))
  .description('read every source once and render the configuration (printed, or written to --out) without touching HAProxy')
  .option('-o, --out <dir>', 'write haproxy.cfg and hosts.map into this directory')
  .action(async (opts) => {
    await renderCommand(await configFromOptions(opts), opts.out, process.stdout);
  });

withConfigFlags(program.command('check'))
  .description('render from the live sources and run haproxy -c on the result; print every rejected input')
  .action(async (opts) => {
    const ok = await checkCommand(await configFromOptions(opts), process.stdout);
    if (!ok) process.exitCode = EXIT_FAILURE;
  });

const domains = program
  .command('domains')
  .description("manage custom FQDNs in Consul K/V (<domains_prefix><app>) with the daemon's validation and check-and-set");
const domainsIo = { out: process.stdout, err: process.stderr };

withConfigFlags(domains.command('list'))
  .argument('[app]', 'only this app (Consul service name)')
  .option('--json', 'machine-readable output')
  .description("list every custom domain (or one app's) and whether the daemon serves it, with the reason when it does not")
  .action(async (app: string | undefined, opts) => {
    process.exitCode = await domainsList(await configFromOptions(opts), app, { json: Boolean(opts.json) }, domainsIo);
  });

withConfigFlags(domains.command('add'))
  .argument('<app>', 'Consul service name, e.g. wordpress-community')
  .argument('<fqdn>', 'host name, e.g. www.example.org')
  .description('add a custom domain to an app; refuses invalid names, the cluster zone and hosts claimed by another app (exit 2)')
  .action(async (app: string, fqdn: string, opts) => {
    process.exitCode = await domainsAdd(await configFromOptions(opts), app, fqdn, domainsIo);
  });

withConfigFlags(domains.command('remove'))
  .argument('<app>', 'Consul service name')
  .argument('<fqdn>', 'host name to remove')
  .description('remove one custom domain from an app (the key is deleted when it was the last one)')
  .action(async (app: string, fqdn: string, opts) => {
    process.exitCode = await domainsRemove(await configFromOptions(opts), app, fqdn, domainsIo);
  });

withConfigFlags(domains.command('owners'))
  .description('who holds each shared name (custom hosts, app and group names, tcp ports): recorded, pending or idle')
  .argument('[filter]', 'only names or owners containing this text')
  .option('--kind <kind>', 'host, name or port')
  .option('--json', 'print JSON')
  .action(async (filter: string | undefined, opts) => {
    process.exitCode = await domainsOwners(await configFromOptions(opts), { kind: opts.kind, filter, json: Boolean(opts.json) }, domainsIo);
  });

withConfigFlags(domains.command('transfer'))
  .description('give a shared name to another app (written with check-and-set to <claims_prefix><kind>s/<name>)')
  .argument('<kind>', 'host, name or port')
  .argument('<name>', 'the host, the app or group name, or the port')
  .argument('<app>', 'the new owner (for a group name: the member app that owns the group, with --group)')
  .option('--group', 'the name is held for a router.group')
  .action(async (kind: string, name: string, app: string, opts) => {
    process.exitCode = await domainsTransfer(await configFromOptions(opts), kind, name, app, { group: Boolean(opts.group) }, domainsIo);
  });

const weights = program
  .command('weights')
  .description('weights of a router.group route in Consul K/V (<weights_prefix><group>), validated and written with check-and-set');

withConfigFlags(weights.command('get'))
  .argument('<group>', 'group name (router.group=<group>)')
  .option('--json', 'machine-readable output')
  .description("show the group's apps, the weight each gets and where it comes from")
  .action(async (group: string, opts) => {
    process.exitCode = await weightsGet(await configFromOptions(opts), group, { json: Boolean(opts.json) }, domainsIo);
  });

withConfigFlags(weights.command('set'))
  .argument('<group>', 'group name (router.group=<group>)')
  .argument('<weights...>', '<app>=<0..256> for one or more apps of the group (0 drains); the others keep theirs')
  .description('set the weights of apps of a group; applied by the daemon at runtime, no reload')
  .action(async (group: string, list: string[], opts) => {
    process.exitCode = await weightsSet(await configFromOptions(opts), group, list, domainsIo);
  });

const maintenance = program
  .command('maintenance')
  .description('maintenance pages in Consul K/V (<maintenance_prefix><app or group>): 503 with the message and Retry-After');

withConfigFlags(maintenance.command('on'))
  .argument('<app>', 'app or group name')
  .argument('[message...]', 'text of the page (plain text, at most 1 KB; default: a generic message)')
  .description('put an app or group in maintenance; applied by the daemon at runtime, no reload')
  .action(async (app: string, message: string[], opts) => {
    process.exitCode = await maintenanceOn(await configFromOptions(opts), app, message.join(' '), domainsIo);
  });

withConfigFlags(maintenance.command('off'))
  .argument('<app>', 'app or group name')
  .description('end the maintenance of an app or group')
  .action(async (app: string, opts) => {
    process.exitCode = await maintenanceOff(await configFromOptions(opts), app, domainsIo);
  });

withConfigFlags(program.command('explain'))
  .argument('[host]', 'host name (or host:port, or a URL)')
  .option('--marathon <app.json>', 'check a Marathon app definition before deploy instead (no cluster needed; exit 2 on a rejection)')
  .option('--json', 'machine-readable output')
  .description('say which app serves a host, why, and through which servers, or why none does; or, with --marathon, what the router would do with an app')
  .action(async (host: string | undefined, opts) => {
    if ((host === undefined) === (opts.marathon === undefined)) throw new UsageError('explain needs a host, or --marathon <app.json> (not both)');
    const config = await configFromOptions(opts);
    const json = { json: Boolean(opts.json) };
    process.exitCode =
      opts.marathon !== undefined
        ? await explainMarathonCommand(config, opts.marathon, json, process.stdout, process.stderr)
        : await explainCommand(config, host!, json, process.stdout, process.stderr);
  });

program
  .command('passwd')
  .argument('<user>', 'user name for the status page')
  .description('print a "user:$scrypt$..." line for listen_auth_file; the password is read from stdin (or prompted)')
  .action(async (user: string) => {
    process.exitCode = await passwdCommand(user, process.stdin, process.stdout, process.stderr);
  });

program
  .command('dev')
  .description('start the embedded dev cluster: dev Consul, sample apps from examples/marathon, HAProxy on loopback, and the daemon')
  .option('--http-port <port>', 'HAProxy HTTP port on 127.0.0.1', '18080')
  .option('--once', 'exit after printing the routes and one request per host')
  .option('--traffic [rate]', 'send requests through HAProxy to every host (rate per second per host, default 2; some answer 503)')
  .action(async (opts) => {
    const traffic = opts.traffic === undefined ? 0 : opts.traffic === true ? 2 : Number(opts.traffic);
    if (!(traffic >= 0 && traffic <= 1000))
      throw new UsageError(`--traffic: a rate of requests per second per host (0 to 1000), got ${JSON.stringify(opts.traffic)}`);
    // Dev-only code is loaded only by this command, never by the daemon's production path.
    const { runDevCluster } = await loadDevCluster();
    await runDevCluster({ httpPort: Number(opts.httpPort), once: Boolean(opts.once), out: process.stdout, traffic });
  });

async function main(argv: string[]): Promise<number> {
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version are not errors; everything else commander reports is usage.
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    printError(err);
    return exitCodeFor(err);
  }
}

process.exitCode = await main(process.argv);
