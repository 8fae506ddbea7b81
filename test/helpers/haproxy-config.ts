// The head of a small HAProxy config for tests that start a real HAProxy on their own files.

/** The global, defaults and frontend lines of a test config: `global` holds `globalLine`. */
export function configHead(globalLine: string, port: number): string[] {
  return [
    'global',
    `  ${globalLine}`,
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout client 5s',
    '  timeout server 5s',
    'frontend web',
    `  bind 127.0.0.1:${port}`,
  ];
}

/** The same with a runtime socket at admin level. */
export const runtimeHead = (runtimeSocket: string, port: number): string[] =>
  configHead(`stats socket ${runtimeSocket} mode 600 level admin expose-fd listeners`, port);
