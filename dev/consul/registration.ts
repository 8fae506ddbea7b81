// The JSON bodies of PUT /v1/catalog/register and /v1/catalog/deregister (Consul docs:
// api-docs/catalog), checked and defaulted the way Consul's catalog endpoint does before
// anything reaches the state store.
import { asObject, optArray, optBoolean, optNumber, optObject, optString, optStringArray, optStringMap, type JsonObject } from './decode.js';
import { HttpError } from './reply.js';

const STATUSES: readonly string[] = ['passing', 'warning', 'critical', 'maintenance'];

/** Failures Consul reports from its RPC layer come back as 500 with the error text. */
export const rpcError = (message: string): HttpError => new HttpError(500, message);

export interface ParsedService {
  ID: string;
  Service: string;
  Tags: string[];
  Address: string;
  TaggedAddresses?: Record<string, { address: string; port: number }>;
  Meta: Record<string, string>;
  Port: number;
  Weights: { Passing: number; Warning: number };
}

export interface ParsedCheck {
  CheckID: string;
  Name: string;
  Status: string;
  Notes: string;
  Output: string;
  ServiceID: string;
}

function parseService(obj: JsonObject): ParsedService {
  const name = optString(obj, 'Service') ?? '';
  const id = optString(obj, 'ID') || name;
  if (name === '') throw rpcError('Must provide service name with ID');
  const weights = optObject(obj, 'Weights');
  const tagged = optObject(obj, 'TaggedAddresses');
  return {
    ID: id,
    Service: name,
    Tags: optStringArray(obj, 'Tags') ?? [],
    Address: optString(obj, 'Address') ?? '',
    ...(tagged && Object.keys(tagged).length > 0
      ? {
          TaggedAddresses: Object.fromEntries(
            Object.entries(tagged).map(([k, v]) => {
              const o = asObject(v, `TaggedAddresses.${k}`);
              return [k, { address: optString(o, 'Address') ?? '', port: optNumber(o, 'Port') ?? 0 }];
            }),
          ),
        }
      : {}),
    Meta: optStringMap(obj, 'Meta') ?? {},
    Port: optNumber(obj, 'Port') ?? 0,
    Weights: {
      Passing: (weights && optNumber(weights, 'Passing')) ?? 1,
      Warning: (weights && optNumber(weights, 'Warning')) ?? 1,
    },
  };
}

function parseCheck(obj: JsonObject, node: string): ParsedCheck {
  const name = optString(obj, 'Name') ?? '';
  const checkId = optString(obj, 'CheckID') || name;
  if (checkId === '') throw rpcError('Must provide a CheckID or a Name for each check');
  const checkNode = optString(obj, 'Node');
  if (checkNode && checkNode !== node) throw rpcError(`Check node "${checkNode}" does not match registration node "${node}"`);
  // Consul stores a check without a status as critical (state store ensureCheckTxn).
  const status = optString(obj, 'Status') || 'critical';
  if (!STATUSES.includes(status)) throw new HttpError(400, `Invalid check status: "${status}"`);
  return {
    CheckID: checkId,
    Name: name,
    Status: status,
    Notes: optString(obj, 'Notes') ?? '',
    Output: optString(obj, 'Output') ?? '',
    ServiceID: optString(obj, 'ServiceID') ?? '',
  };
}

export interface Registration {
  Node: string;
  ID: string;
  Address: string;
  Datacenter?: string;
  TaggedAddresses: Record<string, string>;
  NodeMeta: Record<string, string>;
  SkipNodeUpdate: boolean;
  Service?: ParsedService;
  /** `Check` and `Checks` together. */
  Checks: ParsedCheck[];
}

export interface Deregistration {
  Node: string;
  Datacenter?: string;
  ServiceID: string;
  CheckID: string;
}

export function parseRegistration(body: unknown): Registration {
  const req = asObject(body, 'body');
  const node = optString(req, 'Node') ?? '';
  if (node === '') throw rpcError('Must provide node');
  const skipNodeUpdate = optBoolean(req, 'SkipNodeUpdate') ?? false;
  const address = optString(req, 'Address') ?? '';
  if (!skipNodeUpdate && address === '') throw rpcError('Must provide address if SkipNodeUpdate is not set');
  const service = optObject(req, 'Service');
  const checks = [optObject(req, 'Check'), ...(optArray(req, 'Checks') ?? [])].filter((c) => c !== undefined);
  return {
    Node: node,
    ID: optString(req, 'ID') ?? '',
    Address: address,
    Datacenter: optString(req, 'Datacenter'),
    // An agent-registered node always carries lan/wan; default to that shape.
    TaggedAddresses: optStringMap(req, 'TaggedAddresses') ?? { lan: address, wan: address },
    NodeMeta: optStringMap(req, 'NodeMeta') ?? {},
    SkipNodeUpdate: skipNodeUpdate,
    Service: service ? parseService(service) : undefined,
    Checks: checks.map((c, i) => parseCheck(asObject(c, `Checks[${i}]`), node)),
  };
}

export function parseDeregistration(body: unknown): Deregistration {
  const req = asObject(body, 'body');
  const node = optString(req, 'Node') ?? '';
  if (node === '') throw rpcError('Must provide node');
  return {
    Node: node,
    Datacenter: optString(req, 'Datacenter'),
    ServiceID: optString(req, 'ServiceID') ?? '',
    CheckID: optString(req, 'CheckID') ?? '',
  };
}
