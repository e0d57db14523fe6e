import { randomBytes, randomUUID } from 'node:crypto';

/** Cloudflare's 32-hex identifiers (accounts, zones, DNS records). */
export const hexId = (): string => randomBytes(16).toString('hex');
export const uuid = (): string => randomUUID();

export const isHexId = (value: string): boolean => /^[0-9a-f]{32}$/.test(value);
export const isUuid = (value: string): boolean =>
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value);
