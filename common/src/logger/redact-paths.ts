/**
 * pino `redact` paths: fields that hold secrets wherever we know their exact place. Secrets deeper
 * or under other names are caught by `scrubSecretFields` (by name) and `maskSecrets` (by shape).
 * A bare `key` field is deliberately absent: label routes use `key` for their name, and our API keys
 * are recognised by their `tfk_` shape instead.
 */
const SECRET_FIELDS = [
  'token',
  'tokens',
  'apiKey',
  'api_key',
  'secret',
  'password',
  'authorization',
  'TUNNEL_TOKEN',
  'TUNNELFLEET_API_KEY',
  'TUNNELFLEET_ADMIN_TOKEN',
  'CLOUDFLARE_API_TOKEN',
  'CLOUDFLARE_TOKENS',
  'adminToken',
  'cloudflareApiToken',
  'cloudflareTokens',
];

const HEADER_FIELDS = [
  'authorization',
  'cookie',
  '["set-cookie"]',
  '["x-api-key"]',
  '["cf-access-client-secret"]',
];

export const REDACT_PATHS: readonly string[] = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((field) => `*.${field}`),
  ...HEADER_FIELDS.flatMap((header) => {
    const member = header.startsWith('[') ? header : `.${header}`;
    return ['headers', '*.headers', 'req.headers', 'res.headers'].map((parent) => `${parent}${member}`);
  }),
  'payload.token',
  '*.payload.token',
];

export const REDACTED = '[REDACTED]';
