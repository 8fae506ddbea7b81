// pino logger: JSON lines for journald/aggregators, pretty in a terminal. Secrets are redacted at
// the logger so a careless `log.info({ config })` can never leak them.
import pino, { type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'token',
  '*.token',
  'config.consul.token',
  'config.vault.token',
  'password',
  '*.password',
  'stats.password',
  'secret_id',
  '*.secret_id',
  'private_key',
  '*.private_key',
  // Vault: secrets snapshots, certificates, AppRole and token responses.
  'consulToken',
  '*.consulToken',
  'privateKey',
  '*.privateKey',
  'pem',
  '*.pem',
  'certificates',
  '*.certificates',
  'secretId',
  '*.secretId',
  'client_token',
  '*.client_token',
  'stats_password',
  '*.stats_password',
  'headers["x-consul-token"]',
  'headers["x-vault-token"]',
  'headers.authorization',
  // router.auth users (crypt hashes) from Vault.
  'users',
  '*.users',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { name: 'paas-router' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
  if (destination) return pino(options, destination);
  if (process.stdout.isTTY) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { destination: 2 } } });
  }
  return pino(options, pino.destination(2));
}
