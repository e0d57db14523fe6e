import { z } from 'zod';

/** An API token and the zones it is used for (a hostname takes the token of its longest matching zone). */
export interface ZoneToken {
  token: string;
  zones: string[];
}

const TOKEN = /^[A-Za-z0-9._~+/=-]{8,512}$/;
const ZONE = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/;

/**
 * `CLOUDFLARE_TOKENS=token1@example.com,example.org;token2@example.net`: entries separated by `;`,
 * each a token, `@`, and its comma-separated zones. Chosen over JSON because it needs no quoting in
 * a `.env` file or compose `environment:` list. A zone may appear under one token only.
 */
export function envCloudflareTokens() {
  return z.string().transform((text, ctx): ZoneToken[] => {
    const entries: ZoneToken[] = [];
    const seenZones = new Set<string>();
    const parts = text
      .split(';')
      .map((part) => part.trim())
      .filter(Boolean);
    parts.forEach((part, index) => {
      const at = part.lastIndexOf('@');
      const where = `entry ${index + 1}`;
      if (at <= 0) {
        ctx.addIssue({ code: 'custom', message: `${where}: expected token@zone1,zone2` });
        return;
      }
      const token = part.slice(0, at);
      const zones = part
        .slice(at + 1)
        .split(',')
        .map((zone) => zone.trim().toLowerCase())
        .filter(Boolean);
      // The token itself is never echoed: it is a secret.
      if (!TOKEN.test(token))
        ctx.addIssue({ code: 'custom', message: `${where}: the token has invalid characters or length` });
      if (zones.length === 0) ctx.addIssue({ code: 'custom', message: `${where}: no zone after "@"` });
      for (const zone of zones) {
        if (!ZONE.test(zone))
          ctx.addIssue({ code: 'custom', message: `${where}: "${zone}" is not a zone name` });
        else if (seenZones.has(zone))
          ctx.addIssue({ code: 'custom', message: `${where}: zone "${zone}" listed twice` });
        seenZones.add(zone);
      }
      entries.push({ token, zones });
    });
    return entries;
  });
}
