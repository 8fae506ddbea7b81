// `paas-router <command>`: a thin commander front over the daemon's modules.
import { Command, CommanderError } from 'commander';
import { createLogger } from '../log.js';
import { startDaemon } from '../daemon.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, configFromOptions, exitCodeFor, printError, withConfigFlags } from './common.js';
import { checkCommand, renderCommand } from './render.js';

const program = new Command('paas-router')
  .description('Routes Marathon apps registered in Consul through HAProxy, with custom domains from Consul K/V.')
  .exitOverride()
  .showHelpAfterError();

withConfigFlags(program.command('run'))
  .description('run the daemon: watch Consul, render, validate and apply the HAProxy configuration')
  .action(async (opts) => {
    const config = await configFromOptions(opts);
    const log = createLogger(config.logLevel);
    const daemon = await startDaemon(config, log);
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        log.info({ signal }, 'stopping; HAProxy keeps serving the current configuration');
        void daemon.stop().then(resolve);
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
    log.flush();
    process.exit(EXIT_OK);
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

program
  .command('dev')
  .description('start the embedded dev cluster: dev Consul, sample apps from examples/marathon, HAProxy on loopback, and the daemon')
  .option('--http-port <port>', 'HAProxy HTTP port on 127.0.0.1', '18080')
  .option('--once', 'exit after printing the routes and one request per host')
  .action(async (opts) => {
    // Dev-only code is loaded only by this command, never by the daemon's production path.
    const { runDevCluster } = await import('../../dev/cluster.js');
    await runDevCluster({ httpPort: Number(opts.httpPort), once: Boolean(opts.once), out: process.stdout });
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
