import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Ajv, type ValidateFunction } from 'ajv';
import formatsModule from 'ajv-formats';
import { convert, SPEC_URL } from './spec-validator.js';

/**
 * Access rules (a policy's include / require / exclude items) checked as Cloudflare checks them:
 * each is an object with exactly one rule type, a type the OpenAPI description's `access_rule`
 * lists, whose value matches that type's schema. The description leaves two values as plain
 * strings that the live API still refuses when malformed: an IP range must be an IPv4 or IPv6
 * CIDR block (as the description says), and a country code two upper-case letters.
 */
export interface AccessRuleChecker {
  /** Why the rule is refused, or undefined when Cloudflare takes it. */
  problem(rule: unknown): string | undefined;
  /** Every rule type the description lists (`email`, `ip`, `geo`, …). */
  readonly types: readonly string[];
}

type Json = Record<string, unknown>;

const SCHEMAS = '#/components/schemas/';

/** The schemas `access_rule` reaches, by name: a small document to compile, not the whole spec. */
function reachable(schemas: Record<string, Json>, root: string): Record<string, Json> {
  const out: Record<string, Json> = {};
  const todo = [root];
  while (todo.length > 0) {
    const name = todo.pop()!;
    if (out[name] || !schemas[name]) continue;
    out[name] = schemas[name];
    for (const [, ref] of JSON.stringify(schemas[name]).matchAll(/"#\/components\/schemas\/([^"]+)"/g))
      todo.push(ref!);
  }
  return out;
}

function cidrProblem(value: string): string | undefined {
  const [address, bits, ...rest] = value.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || rest.length > 0 || bits === undefined)
    return `${value} is not an IPv4 or IPv6 CIDR block`;
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return `${value} has a prefix length outside 0–${max}`;
  return undefined;
}

export function loadAccessRuleChecker(specUrl: URL = SPEC_URL): AccessRuleChecker {
  const spec = JSON.parse(readFileSync(specUrl, 'utf8')) as { components: { schemas: Record<string, Json> } };
  const schemas = reachable(spec.components.schemas, 'access_rule');
  const ajv = new Ajv({ strict: false, allErrors: false, logger: false, validateFormats: true });
  formatsModule.default(ajv);
  ajv.addSchema({ $id: 'access-rules', components: { schemas: convert(schemas) } });
  const byType = new Map<string, ValidateFunction>();
  const union = (schemas.access_rule?.anyOf ?? []) as Json[];
  for (const branch of union) {
    const name = String(branch.$ref ?? '').slice(SCHEMAS.length);
    const [type] = (schemas[name]?.required ?? []) as string[];
    if (!type) continue;
    const pointer = `access-rules${SCHEMAS}${name}/properties/${type.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    const validate = ajv.getSchema(pointer);
    if (validate) byType.set(type, validate);
  }
  const types = [...byType.keys()].sort();
  return {
    types,
    problem(rule) {
      if (!rule || typeof rule !== 'object' || Array.isArray(rule) || Object.keys(rule).length !== 1) {
        return 'must be an object with exactly one rule type';
      }
      const [type, value] = Object.entries(rule)[0]!;
      const validate = byType.get(type);
      if (!validate) return `has an unknown rule type ${JSON.stringify(type.slice(0, 40))}`;
      if (!validate(value)) {
        const [error] = validate.errors ?? [];
        return `${type}${error?.instancePath ?? ''} ${error?.message ?? 'is invalid'}`;
      }
      if (type === 'ip') return cidrProblem((value as { ip: string }).ip);
      if (type === 'geo' && !/^[A-Z]{2}$/.test((value as { country_code: string }).country_code)) {
        return `geo.country_code ${JSON.stringify((value as { country_code: string }).country_code)} is not a two-letter upper-case country code`;
      }
      return undefined;
    },
  };
}
