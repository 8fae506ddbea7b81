// The one place the `app_` prefix of HAProxy backend names is written: a request can only ever
// pick a backend of this prefix (the hosts map holds nothing else).
export const BACKEND_PREFIX = 'app_';

export function backendName(name: string): string {
  return `${BACKEND_PREFIX}${name}`;
}
