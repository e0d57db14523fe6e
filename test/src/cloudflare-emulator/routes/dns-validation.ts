import { isIP } from 'node:net';
import { apiErrors } from '../errors.js';
import type { DnsRecord, Zone } from '../state.js';

/**
 * The plan the emulated zones are on decides the comment and tag limits. Free: 100-character
 * comments and no tags (tags are a paid feature); paid plans: 500 characters and 20 tags.
 */
const COMMENT_LIMIT_FREE = 100;

const RECORD_TYPES = new Set([
  'A',
  'AAAA',
  'CAA',
  'CERT',
  'CNAME',
  'DNSKEY',
  'DS',
  'HTTPS',
  'LOC',
  'MX',
  'NAPTR',
  'NS',
  'OPENPGPKEY',
  'PTR',
  'SMIMEA',
  'SRV',
  'SSHFP',
  'SVCB',
  'TLSA',
  'TXT',
  'URI',
]);
const PROXIABLE = new Set(['A', 'AAAA', 'CNAME']);
const LABEL = /^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)$/;

/** The FQDN of a record name as the live API stores it: relative names get the zone appended. */
function normalizeRecordName(raw: unknown, zone: Zone): string {
  if (typeof raw !== 'string' || raw.trim() === '') throw apiErrors.dnsNameInvalid();
  let name = raw.trim().toLowerCase().replace(/\.$/, '');
  if (name === '@') name = zone.name;
  if (name !== zone.name && !name.endsWith(`.${zone.name}`)) name = `${name}.${zone.name}`;
  if (name.length > 253) throw apiErrors.dnsNameInvalid();
  const labels = name.split('.');
  labels.forEach((label, index) => {
    if (label === '*' && index === 0) return;
    if (!LABEL.test(label)) throw apiErrors.dnsNameInvalid();
  });
  return name;
}

export function isHostname(value: string): boolean {
  const name = value.replace(/\.$/, '').toLowerCase();
  return name.length > 0 && name.length <= 253 && name.split('.').every((label) => LABEL.test(label));
}

export interface RecordInput {
  type: string;
  name: string;
  content: string;
  proxied: boolean;
  ttl: number;
  comment: string | null;
  tags: string[];
  priority?: number;
  settings: Record<string, unknown>;
}

function validateContent(type: string, content: string): void {
  if (type === 'A' && isIP(content) !== 4) {
    throw apiErrors.dnsValidation(9005, 'Content for A record is invalid. Must be a valid IPv4 address');
  }
  if (type === 'AAAA' && isIP(content) !== 6) {
    throw apiErrors.dnsValidation(9006, 'Content for AAAA record is invalid. Must be a valid IPv6 address');
  }
  if ((type === 'CNAME' || type === 'NS' || type === 'MX') && !isHostname(content)) {
    throw apiErrors.dnsValidation(9007, `Content for ${type} record is invalid.`);
  }
  if (content === '' && type !== 'TXT') {
    throw apiErrors.dnsValidation(9008, 'Content is required.');
  }
}

/** Validates a full record body (POST, PUT, or PATCH merged over the existing record). */
export function validateRecordInput(body: Record<string, unknown>, zone: Zone): RecordInput {
  const type = body.type;
  if (typeof type !== 'string' || !RECORD_TYPES.has(type)) {
    throw apiErrors.dnsValidation(9020, 'Invalid DNS record type');
  }
  const name = normalizeRecordName(body.name, zone);
  const content = typeof body.content === 'string' ? body.content : '';
  validateContent(type, content);
  if (type === 'CNAME' && content.replace(/\.$/, '').toLowerCase() === name) {
    throw apiErrors.dnsValidation(
      9007,
      'Content for CNAME record is invalid. Must not match the record name.',
    );
  }
  if (body.proxied !== undefined && typeof body.proxied !== 'boolean') {
    throw apiErrors.dnsValidation(9003, 'Invalid proxied value; must be true or false');
  }
  const proxied = body.proxied === true;
  if (proxied && !PROXIABLE.has(type))
    throw apiErrors.dnsValidation(9004, 'This record type cannot be proxied.');
  const ttl = body.ttl === undefined ? 1 : body.ttl;
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || (ttl !== 1 && (ttl < 60 || ttl > 86400))) {
    throw apiErrors.dnsValidation(9021, 'Invalid TTL. Must be between 60 and 86400, or 1 for automatic.');
  }
  const comment =
    body.comment === undefined || body.comment === null || body.comment === '' ? null : body.comment;
  if (comment !== null && typeof comment !== 'string') {
    throw apiErrors.dnsValidation(9102, 'Comment must be a string');
  }
  if (comment !== null && comment.length > COMMENT_LIMIT_FREE) {
    throw apiErrors.dnsValidation(
      9102,
      `DNS record has ${comment.length} characters in comment, exceeding the maximum of ${COMMENT_LIMIT_FREE}`,
    );
  }
  const tags = body.tags === undefined || body.tags === null ? [] : body.tags;
  if (!Array.isArray(tags) || tags.some((tag) => typeof tag !== 'string')) {
    throw apiErrors.dnsValidation(9103, 'Tags must be an array of strings');
  }
  if (tags.length > 0) {
    throw apiErrors.dnsValidation(
      9103,
      'DNS record has 1 or more tags, exceeding the maximum of 0 on this plan',
    );
  }
  let priority: number | undefined;
  if (type === 'MX') {
    if (typeof body.priority !== 'number' || !Number.isInteger(body.priority) || body.priority < 0) {
      throw apiErrors.dnsValidation(9100, 'MX records require a priority between 0 and 65535');
    }
    priority = body.priority;
  }
  const settings =
    body.settings && typeof body.settings === 'object' ? (body.settings as Record<string, unknown>) : {};
  return {
    type,
    name,
    content: type === 'CNAME' ? content.replace(/\.$/, '').toLowerCase() : content,
    // Proxied records always answer with an automatic TTL.
    proxied,
    ttl: proxied ? 1 : ttl,
    comment,
    tags: tags as string[],
    ...(priority === undefined ? {} : { priority }),
    settings,
  };
}

/** The live API's name conflicts: CNAME stands alone at a name; identical records are refused. */
export function checkConflicts(input: RecordInput, others: Iterable<DnsRecord>): void {
  for (const other of others) {
    if (other.name !== input.name) continue;
    if (other.type === input.type && other.content === input.content) throw apiErrors.identicalRecord();
    const addressOrAlias = (type: string) => type === 'A' || type === 'AAAA' || type === 'CNAME';
    if (input.type === 'CNAME' || other.type === 'CNAME') {
      if (addressOrAlias(input.type) && addressOrAlias(other.type)) throw apiErrors.hostConflict();
      throw apiErrors.cnameConflict();
    }
  }
}
