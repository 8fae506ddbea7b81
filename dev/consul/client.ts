// A minimal HTTP client for the Consul API, for dev helpers and the dev server's tests.
// It returns status, headers and raw text and never throws on an HTTP status, so callers
// can look at 403/404/500 answers as they are.

export interface ConsulCall {
  method?: 'GET' | 'PUT' | 'DELETE' | 'POST' | 'OPTIONS';
  /** A string or Buffer is sent as is; anything else as JSON. */
  body?: unknown;
  /** Sent as X-Consul-Token. */
  token?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface ConsulAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** X-Consul-Index as a number, when present. */
  index: number | undefined;
  json<T = unknown>(): T;
}

export async function consulCall(baseUrl: string, path: string, call: ConsulCall = {}): Promise<ConsulAnswer> {
  const raw = call.body === undefined || typeof call.body === 'string' || Buffer.isBuffer(call.body);
  const res = await fetch(baseUrl + path, {
    method: call.method ?? 'GET',
    headers: {
      ...(call.token ? { 'X-Consul-Token': call.token } : {}),
      ...(raw ? {} : { 'Content-Type': 'application/json' }),
      ...call.headers,
    },
    body: Buffer.isBuffer(call.body) ? new Uint8Array(call.body) : raw ? (call.body as string | undefined) : JSON.stringify(call.body),
    signal: call.signal,
  });
  const text = await res.text();
  const index = res.headers.get('x-consul-index');
  return {
    status: res.status,
    headers: res.headers,
    text,
    index: index === null ? undefined : Number(index),
    json: <T>() => JSON.parse(text) as T,
  };
}
