// One error base class with a stable `code` per failure (after undici's lib/core/errors.js):
// callers branch on `code`, never on message text; `cause` keeps the underlying error.
export class RouterError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad config file, environment variable or flag: exit code 2. */
export class ConfigError extends RouterError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONFIG_INVALID', message, options);
  }
}

/** Bad command-line usage: exit code 2. */
export class UsageError extends RouterError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

/** Consul did not answer, or answered with an error status. */
export class ConsulUnavailableError extends RouterError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONSUL_UNAVAILABLE', message, options);
  }
}

/** Consul answered 200 with a body we cannot use (garbage, truncated, wrong shape). */
export class ConsulResponseError extends RouterError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONSUL_BAD_RESPONSE', message, options);
  }
}

/** A template does not compile or fails while rendering. */
export class TemplateError extends RouterError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TEMPLATE_ERROR', message, options);
  }
}

/** `haproxy -c` refused the candidate configuration. */
export class HaproxyInvalidError extends RouterError {
  readonly output: string;
  constructor(message: string, output: string) {
    super('HAPROXY_INVALID', message);
    this.output = output;
  }
}

/** HAProxy could not be reloaded, or the reload did not produce a new worker. */
export class ReloadFailedError extends RouterError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RELOAD_FAILED', message, options);
  }
}

/** Writing the configuration files failed (permissions, disk full, ...). */
export class WriteFailedError extends RouterError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('WRITE_FAILED', message, options);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function errorCode(err: unknown): string {
  return err instanceof RouterError ? err.code : 'INTERNAL';
}

/** The HAProxy master CLI does not answer (HAProxy not running yet, or the socket path is wrong). */
export class HaproxyUnreachableError extends RouterError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('HAPROXY_UNREACHABLE', message, options);
  }
}

/** HAProxy's runtime API refused a change, or its state differs from the model after applying. */
export class RuntimeRefusedError extends RouterError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RUNTIME_REFUSED', message, options);
  }
}

/** `haproxy -v` could not be run, or printed no version. */
export class HaproxyVersionError extends RouterError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('HAPROXY_VERSION_UNKNOWN', message, options);
  }
}

/** HAProxy answered a command with text the router cannot read. */
export class HaproxyAnswerError extends RouterError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('HAPROXY_BAD_ANSWER', message, options);
  }
}

/** The installed package is not laid out as built (package.json, templates or assets missing). */
export class PackageLayoutError extends RouterError {
  constructor(message: string) {
    super('PACKAGE_LAYOUT', message);
  }
}

/** systemd's notify socket could not be written. */
export class NotifyError extends RouterError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SD_NOTIFY_FAILED', message, options);
  }
}

/** A name failed the ACME pre-flight (DNS or HTTP-01 reachability) before any order was placed. */
export class AcmePreflightError extends RouterError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ACME_PREFLIGHT_FAILED', message, options);
  }
}
