// `paas-router run` under systemd (Type=notify): READY=1 once the first configuration has been
// applied (or after readyTimeoutMs, with STATUS= saying what is missing), WATCHDOG=1 at half of
// WatchdogSec while the event loop is alive, STATUS= with a one-line summary, SIGHUP re-reads the
// config file (RELOADING=1 ... READY=1; a bad file keeps the running daemon), SIGTERM/SIGINT stop
// cleanly (STOPPING=1) without touching HAProxy, which keeps serving its configuration.
import type { Config } from '../config/config.js';
import type { Daemon, DaemonOptions } from '../daemon.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { RouterMetrics } from '../server/metrics.js';
import { statusLine } from '../server/status.js';
import { VERSION } from '../server/version.js';
import type { Notifier } from './notify.js';

export interface ServiceOptions {
  loadConfig(): Promise<Config>;
  createLogger(config: Config): Logger;
  startDaemon(config: Config, log: Logger, opts: DaemonOptions): Promise<Daemon>;
  notifier: Notifier;
  /**
   * READY=1 at the latest this long after start, even if nothing was applied yet, unless the first
   * read of the catalog is still moving (then the wait starts again). Default 60 s.
   */
  readyTimeoutMs?: number;
  /** While starting: STATUS=, EXTEND_TIMEOUT_USEC= and one log line this often, when the progress moved. Default 3 s. */
  progressIntervalMs?: number;
  /** Where signals come from (default: process). */
  signals?: NodeJS.EventEmitter;
}

interface Running {
  config: Config;
  log: Logger;
  daemon: Daemon;
}

/**
 * Runs the daemon until SIGTERM or SIGINT; resolves with the exit code. Throws when the first
 * start fails (bad config: the CLI maps it to exit 2; anything else: exit 1).
 */
export async function runService(opts: ServiceOptions): Promise<number> {
  const { notifier } = opts;
  const signals = opts.signals ?? process;
  const metrics = new RouterMetrics({ version: VERSION });
  const config = await opts.loadConfig();
  const log = opts.createLogger(config);
  // The watchdog runs from the very start: a long first read (10 000 services) must not look hung.
  const watchdog = notifier.watchdogIntervalMs ? setInterval(() => void notifier.watchdog(), notifier.watchdogIntervalMs) : undefined;
  let current: Running;
  try {
    current = { config, log, daemon: await opts.startDaemon(config, log, { metrics }) };
  } catch (err) {
    if (watchdog) clearInterval(watchdog);
    throw err;
  }
  log.info({ notify: notifier.mode, watchdogMs: notifier.watchdogIntervalMs }, 'systemd notification');

  let lastStatus = '';
  const pushStatus = () => {
    const text = statusLine(current.daemon.runner.state, Date.now(), metrics.lastDecisiveReport);
    if (text === lastStatus) return;
    lastStatus = text;
    void notifier.status(text);
  };

  // READY once the first apply has finished, whatever its outcome: HAProxy serves what it has,
  // /healthz and STATUS= tell the rest.
  let ready = false;
  let readyTimer: NodeJS.Timeout | undefined;
  const markReady = (why: string) => {
    if (ready) return;
    ready = true;
    if (readyTimer) clearTimeout(readyTimer);
    lastStatus = statusLine(current.daemon.runner.state, Date.now(), metrics.lastDecisiveReport);
    current.log.info({ why }, 'ready');
    void notifier.ready(lastStatus);
  };
  const follow = (daemon: Daemon) => {
    daemon.runner.on('applied', () => {
      if (!ready) markReady('first configuration applied');
      else pushStatus();
    });
    daemon.runner.on('status', () => {
      if (ready) pushStatus();
    });
  };
  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
  const progressIntervalMs = opts.progressIntervalMs ?? 3_000;
  const readCount = () => current.daemon.runner.state.startup?.read ?? -1;
  const awaitFirstApply = () => {
    ready = false;
    if (current.daemon.runner.state.lastApply) return markReady('first configuration applied');
    let readAtArm = readCount();
    const arm = () => {
      readyTimer = setTimeout(() => {
        // A first read that keeps moving (thousands of services) is a start, not a hang: wait on.
        if (readCount() !== readAtArm) {
          readAtArm = readCount();
          return arm();
        }
        markReady(`nothing applied within ${readyTimeoutMs} ms`);
      }, readyTimeoutMs);
    };
    arm();
  };
  // While starting: how far the first read is, in STATUS= (systemctl status) and one log line,
  // when it moved; EXTEND_TIMEOUT_USEC keeps systemd's start timeout ahead of a moving start.
  let progressLogged = '';
  const progress = setInterval(() => {
    if (ready) return;
    const text = statusLine(current.daemon.runner.state, Date.now(), metrics.lastDecisiveReport);
    if (text === progressLogged) return;
    progressLogged = text;
    lastStatus = text;
    const { startup } = current.daemon.runner.state;
    current.log.info({ read: startup?.read, total: startup?.total }, text);
    void notifier.notify({ STATUS: text, EXTEND_TIMEOUT_USEC: (readyTimeoutMs + progressIntervalMs) * 1000 });
  }, progressIntervalMs);
  progress.unref();
  follow(current.daemon);
  void notifier.status('starting: waiting for Consul, templates and the first configuration');
  awaitFirstApply();

  // Also a status refresh every 30 s: the "last sync" ages in STATUS= would otherwise freeze.
  const refresher = setInterval(() => ready && pushStatus(), 30_000);
  refresher.unref();

  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => (finish = resolve));

  // One signal at a time: a SIGTERM during a reload waits for it, then stops.
  let queue: Promise<void> = Promise.resolve();
  let stopping = false;
  const enqueue = (job: () => Promise<void>) => {
    queue = queue.then(job).catch((err) => current.log.error({ err }, 'signal handling failed'));
  };

  const reload = async () => {
    if (stopping) return;
    const { log: oldLog } = current;
    oldLog.info('SIGHUP: re-reading the configuration file');
    await notifier.reloading('reloading the configuration file');
    let next: Config;
    try {
      next = await opts.loadConfig();
    } catch (err) {
      oldLog.error({ error: errorMessage(err) }, 'SIGHUP: the configuration file is invalid; the daemon keeps running with the previous configuration');
      await notifier.ready(`configuration reload failed, running with the previous one: ${errorMessage(err)}`);
      return;
    }
    await current.daemon.stop();
    const nextLog = opts.createLogger(next);
    try {
      current = { config: next, log: nextLog, daemon: await opts.startDaemon(next, nextLog, { metrics }) };
      nextLog.info('SIGHUP: daemon restarted with the new configuration');
    } catch (err) {
      nextLog.error({ error: errorMessage(err) }, 'SIGHUP: the new configuration did not start; going back to the previous one');
      try {
        current = { ...current, daemon: await opts.startDaemon(current.config, current.log, { metrics }) };
      } catch (again) {
        current.log.fatal({ error: errorMessage(again) }, 'the previous configuration does not start again either; exiting (HAProxy keeps serving)');
        await notifier.stopping(`restart after SIGHUP failed: ${errorMessage(again)}`);
        shutdownTimers();
        finish(1);
        return;
      }
    }
    // READY=1 again once the restarted daemon has applied its first configuration, so that
    // `systemctl reload` returns when the new configuration is in effect.
    follow(current.daemon);
    awaitFirstApply();
  };

  const shutdownTimers = () => {
    if (readyTimer) clearTimeout(readyTimer);
    if (watchdog) clearInterval(watchdog);
    clearInterval(refresher);
    clearInterval(progress);
    signals.off('SIGHUP', onHup);
    signals.off('SIGTERM', onTerm);
    signals.off('SIGINT', onInt);
    signals.off('SIGUSR2', onUsr2);
  };
  const onHup = () => enqueue(reload);
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    enqueue(async () => {
      current.log.info({ signal }, 'stopping; HAProxy keeps serving the current configuration');
      await notifier.stopping(`stopping (${signal}); HAProxy keeps serving`);
      shutdownTimers();
      await current.daemon.stop();
      current.log.info('stopped');
      current.log.flush?.();
      finish(0);
    });
  };
  const onTerm = () => stop('SIGTERM');
  const onInt = () => stop('SIGINT');
  // The never-shrink guard's override: apply a held change now (`systemctl kill -s USR2 paas-router`).
  const onUsr2 = () => current.daemon.runner.releaseHold();
  signals.on('SIGUSR2', onUsr2);
  signals.on('SIGHUP', onHup);
  signals.on('SIGTERM', onTerm);
  signals.on('SIGINT', onInt);
  return finished;
}
