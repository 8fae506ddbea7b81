// Typed access to a JSON request body. Consul decodes bodies with Go's encoding/json, which
// matches field names case-insensitively ("node" fills Node), and answers a type mismatch
// with 400 "Request decode failed: ...". Both behaviours are kept here.
import { HttpError } from './reply.js';

export type JsonObject = Record<string, unknown>;

const fail = (what: string): never => {
  throw new HttpError(400, `Request decode failed: ${what}`);
};

export function parseJsonBody(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    return fail((error as Error).message);
  }
}

export function asObject(value: unknown, where: string): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail(`${where}: expected an object`);
  return value as JsonObject;
}

function field(obj: JsonObject, name: string): unknown {
  if (name in obj) return obj[name];
  const lower = name.toLowerCase();
  const key = Object.keys(obj).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : obj[key];
}

/** A field that must have one JSON type when present; null counts as absent, as in Go. */
function optOf<T>(obj: JsonObject, name: string, expected: string, ok: (v: unknown) => v is T): T | undefined {
  const v = field(obj, name);
  if (v === undefined || v === null) return undefined;
  return ok(v) ? v : fail(`${name}: expected ${expected}`);
}

export const optString = (obj: JsonObject, name: string): string | undefined => optOf(obj, name, 'a string', (v): v is string => typeof v === 'string');

export const optNumber = (obj: JsonObject, name: string): number | undefined =>
  optOf(obj, name, 'a number', (v): v is number => typeof v === 'number' && Number.isFinite(v));

export const optBoolean = (obj: JsonObject, name: string): boolean | undefined => optOf(obj, name, 'a boolean', (v): v is boolean => typeof v === 'boolean');

export const optArray = (obj: JsonObject, name: string): unknown[] | undefined => optOf(obj, name, 'an array', (v): v is unknown[] => Array.isArray(v));

export function optObject(obj: JsonObject, name: string): JsonObject | undefined {
  const v = field(obj, name);
  return v === undefined || v === null ? undefined : asObject(v, name);
}

export function optStringArray(obj: JsonObject, name: string): string[] | undefined {
  const v = optArray(obj, name);
  if (v === undefined) return undefined;
  return v.every((x) => typeof x === 'string') ? (v as string[]) : fail(`${name}: expected an array of strings`);
}

export function optStringMap(obj: JsonObject, name: string): Record<string, string> | undefined {
  const v = optObject(obj, name);
  if (v === undefined) return undefined;
  return Object.values(v).every((x) => typeof x === 'string') ? (v as Record<string, string>) : fail(`${name}: expected string values`);
}
