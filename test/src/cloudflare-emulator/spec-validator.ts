import { readFile } from 'node:fs/promises';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import formatsModule from 'ajv-formats';

/**
 * Validates Cloudflare v4 requests and replies against the OpenAPI 3.0 subset in
 * `openapi.json` (a copy of ../shared/cloudflare/openapi.json, kept beside the code so the
 * conformance test runs anywhere), plus the one operation the master needs that the shared subset
 * lacks: `GET /accounts/{account_id}/access/organizations`, written from Cloudflare's published
 * description (operation `zero-trust-organization-get-your-zero-trust-organization`). Special-cases only the divergences that the spec's README
 * lists: the catch-all last ingress rule, 429 + Retry-After (not described; checked here under
 * `4XX`), and `result: null` in error replies.
 */
export interface SpecViolation {
  kind: 'request' | 'response';
  method: string;
  /** Path below `/client/v4`. */
  path: string;
  status?: number;
  message: string;
}

export interface SpecValidator {
  validateRequest(method: string, path: string, query: URLSearchParams, body: unknown): SpecViolation[];
  validateResponse(
    method: string,
    path: string,
    status: number,
    body: unknown,
    headers: Record<string, string>,
  ): SpecViolation[];
}

type Json = Record<string, unknown>;

interface Operation {
  method: string;
  template: string;
  pattern: RegExp;
  literalSegments: number;
  pointer: string;
  operation: Json;
  queryParameters: Map<string, Json>;
}

export const SPEC_URL = new URL('../../src/cloudflare-emulator/openapi.json', import.meta.url);
const METHODS = ['get', 'put', 'post', 'patch', 'delete'];

const escapePointer = (segment: string) => segment.replace(/~/g, '~0').replace(/\//g, '~1');

/** OpenAPI 3.0 schema dialect → JSON Schema: `nullable` becomes a null type, extensions dropped. */
export function convert(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(convert);
  if (!node || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node as Json)) {
    if (key === 'example' || key.startsWith('x-')) continue;
    out[key] =
      key === 'properties' || key === 'patternProperties' ? mapValues(value as Json) : convert(value);
  }
  // A discriminated anyOf (the DNS record types) is validated as ajv's discriminated oneOf, so
  // a record is checked against its own type's schema only.
  if (out.discriminator && typeof out.discriminator === 'object') {
    const { propertyName } = out.discriminator as { propertyName: string };
    if (Array.isArray(out.anyOf)) {
      out.oneOf = out.anyOf;
      delete out.anyOf;
    }
    out.discriminator = { propertyName };
    if (!Array.isArray(out.oneOf)) delete out.discriminator;
  }
  // Spec quirk (README): `{"type": "object", "enum": [null]}` means "always null".
  if (Array.isArray(out.enum) && out.enum.length === 1 && out.enum[0] === null) {
    delete out.type;
  }
  if (out.nullable === true) {
    delete out.nullable;
    if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
    if (typeof out.type === 'string') return { ...out, type: [out.type, 'null'] };
    return { anyOf: [out, { type: 'null' }] };
  }
  delete out.nullable;
  return out;
}

function mapValues(properties: Json): Json {
  const out: Json = {};
  for (const [name, schema] of Object.entries(properties)) out[name] = convert(schema);
  return out;
}

function resolve(spec: Json, node: unknown): Json {
  let current = node as Json;
  while (current && typeof current.$ref === 'string') {
    current = (current.$ref as string)
      .slice(2)
      .split('/')
      .reduce<unknown>((o, k) => (o as Json)[k.replace(/~1/g, '/').replace(/~0/g, '~')], spec) as Json;
  }
  return current;
}

function operations(spec: Json): Operation[] {
  const ops: Operation[] = [];
  for (const [template, item] of Object.entries(spec.paths as Record<string, Json>)) {
    for (const method of METHODS) {
      const operation = item[method] as Json | undefined;
      if (!operation) continue;
      const segments = template.split('/');
      const pattern = new RegExp(
        `^${segments
          .map((s) => (s === '{accounts_or_zones}' ? '(?:accounts|zones)' : s.startsWith('{') ? '[^/]+' : s))
          .join('/')}$`,
      );
      const queryParameters = new Map<string, Json>();
      for (const raw of [
        ...((item.parameters as unknown[]) ?? []),
        ...((operation.parameters as unknown[]) ?? []),
      ]) {
        const parameter = resolve(spec, raw);
        if (parameter.in === 'query') queryParameters.set(parameter.name as string, parameter);
      }
      ops.push({
        method: method.toUpperCase(),
        template,
        pattern,
        literalSegments: segments.filter((s) => !s.startsWith('{')).length,
        pointer: `#/paths/${escapePointer(template)}/${method}`,
        operation,
        queryParameters,
      });
    }
  }
  // Literal segments win over parameters: `/dns_records/batch` before `/dns_records/{id}`.
  return ops.sort((a, b) => b.literalSegments - a.literalSegments);
}

function queryValueProblem(spec: Json, parameter: Json, value: string): string | null {
  const schema = resolve(spec, parameter.schema);
  const type = schema?.type;
  if (Array.isArray(schema?.enum) && !schema.enum.map(String).includes(value)) {
    return `must be one of ${schema.enum.join(', ')}`;
  }
  if ((type === 'number' || type === 'integer') && (value === '' || Number.isNaN(Number(value)))) {
    return 'must be a number';
  }
  if (type === 'integer' && !Number.isInteger(Number(value))) return 'must be an integer';
  if (type === 'boolean' && value !== 'true' && value !== 'false') return 'must be true or false';
  return null;
}

function describe(errors: ErrorObject[]): string[] {
  return errors.map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`);
}

/** Known divergence 1: the live API requires a last catch-all rule without hostname. */
function isCatchAllDivergence(error: ErrorObject, data: unknown, prefix: string): boolean {
  if (
    error.keyword !== 'required' ||
    (error.params as { missingProperty?: string }).missingProperty !== 'hostname'
  ) {
    return false;
  }
  const match = new RegExp(`^${prefix}/config/ingress/(\\d+)$`).exec(error.instancePath);
  if (!match) return false;
  const config = prefix === '' ? (data as Json)?.config : ((data as Json)?.result as Json)?.config;
  const ingress = (config as Json | undefined)?.ingress;
  return Array.isArray(ingress) && Number(match[1]) === ingress.length - 1;
}

/**
 * ajv reports the failures of every anyOf branch; a branch refused by its discriminator
 * (another record type) is not the branch meant, so its error is dropped, and anyOf/oneOf
 * summaries are only kept when nothing more precise explains the failure.
 */
function relevant(errors: ErrorObject[], keep: (e: ErrorObject) => boolean): ErrorObject[] {
  const remaining = errors.filter(keep);
  const precise = remaining.filter((e) => !['anyOf', 'oneOf', 'discriminator', 'if'].includes(e.keyword));
  if (precise.length > 0) return precise;
  return remaining
    .filter((e) => e.keyword !== 'anyOf')
    .slice(0, 1)
    .concat(remaining.filter((e) => e.keyword === 'anyOf').slice(0, 1));
}

export async function loadSpecValidator(specUrl: URL = SPEC_URL): Promise<SpecValidator> {
  const spec = JSON.parse(await readFile(specUrl, 'utf8')) as Json;
  const converted = convert(spec) as Json;
  const ajv = new Ajv({
    strict: false,
    allErrors: true,
    logger: false,
    validateFormats: true,
    discriminator: true,
  });
  formatsModule.default(ajv);
  ajv.addSchema({ ...converted, $id: 'cloudflare-v4' });
  const ops = operations(spec);
  const compiled = new Map<string, ValidateFunction | null>();
  const validatorAt = (pointer: string): ValidateFunction | null => {
    if (!compiled.has(pointer)) {
      const target = pointer
        .slice(2)
        .split('/')
        .reduce<unknown>(
          (o, k) => (o as Json | undefined)?.[k.replace(/~1/g, '/').replace(/~0/g, '~')],
          spec,
        );
      compiled.set(pointer, target === undefined ? null : (ajv.getSchema(`cloudflare-v4${pointer}`) ?? null));
    }
    return compiled.get(pointer) ?? null;
  };
  const find = (method: string, path: string) =>
    ops.find((op) => op.method === method && op.pattern.test(path.replace(/\/$/, '')));

  return {
    validateRequest(method, path, query, body) {
      const op = find(method, path);
      const violation = (message: string): SpecViolation => ({ kind: 'request', method, path, message });
      if (!op) return [violation('no operation in the spec for this method and path')];
      const out: SpecViolation[] = [];
      for (const [key, value] of query) {
        const parameter = op.queryParameters.get(key);
        if (!parameter) {
          out.push(violation(`query parameter ${key} is not documented for ${method} ${op.template}`));
          continue;
        }
        const problem = queryValueProblem(spec, parameter, value);
        if (problem) out.push(violation(`query parameter ${key}=${value} ${problem}`));
      }
      const requestBody = resolve(spec, op.operation.requestBody);
      if (!requestBody) {
        if (body !== undefined) out.push(violation(`${method} ${op.template} takes no request body`));
        return out;
      }
      if (body === undefined) {
        if (requestBody.required) out.push(violation('request body is required'));
        return out;
      }
      const validate = validatorAt(`${op.pointer}/requestBody/content/application~1json/schema`);
      if (validate && !validate(body)) {
        const errors = relevant(validate.errors ?? [], (e) => !isCatchAllDivergence(e, body, ''));
        for (const message of describe(errors)) out.push(violation(message));
      }
      return out;
    },
    validateResponse(method, path, status, body, headers) {
      const op = find(method, path);
      const violation = (message: string): SpecViolation => ({
        kind: 'response',
        method,
        path,
        status,
        message,
      });
      if (!op) return [violation('no operation in the spec for this method and path')];
      const out: SpecViolation[] = [];
      // Known divergence 2: 429 is not described; it must still carry Retry-After (seconds).
      if (status === 429 && !/^\d+$/.test(headers['retry-after'] ?? '')) {
        out.push(violation('429 without a Retry-After header in seconds'));
      }
      if (status >= 500) return out;
      const responses = op.operation.responses as Json;
      const key =
        String(status) in responses ? String(status) : status >= 400 && '4XX' in responses ? '4XX' : null;
      if (!key) return [...out, violation(`status ${status} is not documented for ${method} ${op.template}`)];
      const validate = validatorAt(`${op.pointer}/responses/${key}/content/application~1json/schema`);
      if (validate && !validate(body)) {
        const errors = relevant(
          validate.errors ?? [],
          (e) =>
            !isCatchAllDivergence(e, body, '/result') &&
            // Known divergence 2: the live 429 carries code 971, below the spec's minimum of 1000.
            !(status === 429 && e.keyword === 'minimum' && /^\/errors\/\d+\/code$/.test(e.instancePath)) &&
            // Known divergence 3: error replies carry `result: null`.
            !(status >= 400 && e.instancePath === '/result' && (body as Json)?.result === null),
        );
        for (const message of describe(errors)) out.push(violation(message));
      }
      return out;
    },
  };
}
