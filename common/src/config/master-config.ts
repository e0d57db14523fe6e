import { COMMAND_POLL_DEFAULT_WAIT_SECONDS, COMMAND_POLL_MAX_WAIT_SECONDS } from '../protocol/command.js';
import { envCloudflareTokens } from './cloudflare-tokens.js';
import { envBool, envDurationSeconds, envInt, envSecretFile, envString, envUrl } from './env-parsers.js';
import { type ConfigOf, envVar, optionalEnvVar } from './env-var.js';
import { logLevelVar } from './log-level-var.js';
import { envTrustProxy } from './trust-proxy.js';

/** Five or six cron fields (node-cron syntax); node-cron itself validates the details. */
const CRON = /^\s*\S+(\s+\S+){4,5}\s*$/;

/** Environment of the master. */
export const masterConfigSpec = {
  port: envVar('PORT', envInt(0, 65535), {
    doc: 'HTTP port of the API and dashboard.',
    example: '8080',
    defaultValue: '8080',
  }),
  host: envVar('HOST', envString({ max: 255 }), {
    doc: 'Address to listen on.',
    example: '0.0.0.0',
    defaultValue: '0.0.0.0',
  }),
  trustProxy: envVar('TRUST_PROXY', envTrustProxy(), {
    doc: "Proxies in front of the master (a TLS proxy) whose X-Forwarded-For is believed, so the\nfailed-authentication limit counts each client, not the proxy: false, a hop count (1 = one\nproxy), or the proxies' addresses and ranges (loopback, 10.0.0.0/8, …).",
    example: 'loopback',
    defaultValue: 'false',
  }),
  dataDir: envVar('TUNNELFLEET_DATA_DIR', envString(), {
    doc: 'Directory of the SQLite database (keep it on a volume).',
    example: '/app/data',
    defaultValue: '/app/data',
  }),
  redisUrl: envVar('REDIS_URL', envUrl(['redis', 'rediss']), {
    doc: 'Redis for queues, heartbeats and live updates (AOF persistence recommended).',
    example: 'redis://redis:6379',
    defaultValue: 'redis://127.0.0.1:6379',
  }),
  redisPassword: optionalEnvVar('REDIS_PASSWORD_FILE', envSecretFile(), {
    doc: 'File holding the Redis password (a Docker secret), read once at start; it overrides a\npassword in REDIS_URL, so the password is neither in the environment nor in a URL.',
    example: '/run/secrets/redis_password',
    defaultDoc: 'the password in REDIS_URL, if any',
  }),
  redisKeyPrefix: envVar(
    'REDIS_KEY_PREFIX',
    envString({ pattern: /^[A-Za-z0-9_-]{1,64}$/, patternText: 'must be 1-64 letters, digits, "_" or "-"' }),
    {
      doc: 'Prefix of every Redis key, queue and channel of the master (two masters may share a Redis\nwith different prefixes).',
      example: 'tunnelfleet',
      defaultValue: 'tunnelfleet',
    },
  ),
  adminToken: optionalEnvVar('TUNNELFLEET_ADMIN_TOKEN', envString({ min: 32 }), {
    doc: 'Bearer token of the admin API. Secret.',
    example: 'tfa_<43 random base64url characters>',
    defaultDoc: 'one is generated at first start, printed once and stored hashed',
    secret: true,
  }),
  metricsToken: optionalEnvVar('METRICS_TOKEN', envString({ min: 32, max: 512 }), {
    doc: 'Bearer token that GET /metrics then requires (Prometheus: authorization.credentials).\nSecret.',
    example: '<32 or more random characters>',
    defaultDoc: '/metrics answers anyone who reaches the port: keep it to your monitoring network',
    secret: true,
  }),
  dashboardSessionSeconds: envVar('DASHBOARD_SESSION_TTL', envDurationSeconds(60, 30 * 86_400), {
    doc: 'How long a dashboard sign-in lasts before the browser must sign in again (12h, 3600, 7d).',
    example: '12h',
    defaultValue: '12h',
  }),
  dashboardDir: optionalEnvVar('DASHBOARD_DIR', envString({ max: 4096 }), {
    doc: "Directory of the dashboard's built assets (index.html and assets/), served under /.",
    example: '/app/dashboard',
    defaultDoc: 'the assets of the @tunnelfleet/dashboard package installed beside the master',
  }),
  cloudflareApiToken: envVar('CLOUDFLARE_API_TOKEN', envString({ min: 8, max: 512 }), {
    doc: 'Default Cloudflare API token (Tunnel edit, DNS edit, Access edit). Secret.',
    example: '<40-character Cloudflare API token>',
    secret: true,
  }),
  cloudflareAccountId: envVar(
    'CLOUDFLARE_ACCOUNT_ID',
    envString({ pattern: /^[0-9a-f]{32}$/, patternText: 'must be 32 lower-case hex characters' }),
    { doc: 'Cloudflare account that owns the tunnels.', example: '0123456789abcdef0123456789abcdef' },
  ),
  cloudflareApiBaseUrl: optionalEnvVar('CLOUDFLARE_API_BASE_URL', envUrl(), {
    doc: 'Cloudflare API base URL; set only to point at an emulator in tests.',
    example: 'http://127.0.0.1:8787/client/v4',
    defaultDoc: "the Cloudflare SDK's default",
  }),
  cloudflareTokens: optionalEnvVar('CLOUDFLARE_TOKENS', envCloudflareTokens(), {
    doc: 'Extra tokens per zone: token@zone1,zone2;token2@zone3. A hostname uses the token of its\nlongest matching zone, else CLOUDFLARE_API_TOKEN. Secret.',
    example: 'tokenA@example.com,example.org;tokenB@example.net',
    defaultDoc: 'CLOUDFLARE_API_TOKEN for every zone',
    secret: true,
  }),
  gracePeriodSeconds: envVar('GRACE_PERIOD_SECONDS', envDurationSeconds(0, 30 * 86_400), {
    doc: 'How long a stopped container keeps its route before cloud objects are removed (600, 10m, 1h).',
    example: '600',
    defaultValue: '600',
  }),
  reconcileCron: envVar(
    'RECONCILE_CRON',
    envString({ max: 255, pattern: CRON, patternText: 'must be a cron expression with 5 or 6 fields' }),
    {
      doc: "Schedule of the housekeeping reconcile: every agent's routes, grace periods, and the\nCloudflare cleanup of expired routes (drift is DRIFT_CHECK_PERIOD's).",
      example: '*/5 * * * *',
      defaultValue: '*/5 * * * *',
    },
  ),
  driftCheckPeriodSeconds: envVar('DRIFT_CHECK_PERIOD', envDurationSeconds(60, 7 * 86_400), {
    doc: "Each tunnel and zone is checked for drift (and repaired) at most this often, the checks spread\nover the period; longer when DRIFT_BUDGET_PERCENT of a token's budget cannot fit them (the\nperiod each gets is in GET /api/v1/admin/cloudflare/budget and /metrics).",
    example: '30m',
    defaultValue: '30m',
  }),
  driftBudgetPercent: envVar('DRIFT_BUDGET_PERCENT', envInt(1, 100), {
    doc: "Share of each Cloudflare token's call budget that drift checks may use, in percent; changes\n(new, changed, removed routes) always go first and may use all of it.",
    example: '10',
    defaultValue: '10',
  }),
  cloudflareCallsPerWindow: envVar('CLOUDFLARE_CALLS_PER_WINDOW', envInt(1, 1_000_000), {
    doc: "Cloudflare's rate limit per token: calls per CLOUDFLARE_WINDOW_SECONDS (documented: 1200 per\n300 s). The master keeps 10% of it in reserve for the dashboard and other tools.",
    example: '1200',
    defaultValue: '1200',
  }),
  cloudflareWindowSeconds: envVar('CLOUDFLARE_WINDOW_SECONDS', envInt(1, 86_400), {
    doc: "The window of Cloudflare's rate limit, in seconds.",
    example: '300',
    defaultValue: '300',
  }),
  requireAccess: envVar('REQUIRE_ACCESS', envBool(), {
    doc: 'Every published hostname must have Access (access.* labels) or be marked public on purpose\n(tunnelfleet.access.public=true); any other route is invalid and not published. GET\n/api/v1/admin/routes/public (`tunnelfleet routes public`) lists the public ones either way.',
    example: 'true',
    defaultValue: 'false',
  }),
  syncDebounceMs: envVar('SYNC_DEBOUNCE_MS', envInt(0, 60_000), {
    doc: 'A tunnel or zone is synced to Cloudflare once no change has come for it for this long, so a\nburst of container starts becomes one configuration write.',
    example: '150',
    defaultValue: '150',
  }),
  syncMaxWaitMs: envVar('SYNC_MAX_WAIT_MS', envInt(0, 600_000), {
    doc: 'Longest wait between the first unsynced change of a tunnel or zone and its sync.',
    example: '2000',
    defaultValue: '2000',
  }),
  rolloutCheckIntervalMs: envVar('ROLLOUT_CHECK_INTERVAL_MS', envInt(200, 60_000), {
    doc: "How often a running rollout of the fleet's cloudflared image looks at its wave: whether each host is ready and connected at Cloudflare (one tunnel connections call per host still upgrading).",
    example: '2000',
    defaultValue: '2000',
  }),
  alertTimeoutMs: envVar('ALERT_TIMEOUT_MS', envInt(100, 60_000), {
    doc: 'Longest wait for an alert receiver to answer one webhook; a receiver that hangs counts as a failed attempt.',
    example: '5000',
    defaultValue: '5000',
  }),
  alertMaxAttempts: envVar('ALERT_MAX_ATTEMPTS', envInt(1, 50), {
    doc: 'Attempts per alert delivery (the first included) before it is recorded as failed.',
    example: '8',
    defaultValue: '8',
  }),
  alertRetryBaseMs: envVar('ALERT_RETRY_BASE_MS', envInt(10, 3_600_000), {
    doc: 'Delay before the second attempt of an alert delivery; it doubles with each further attempt\n(with jitter), up to 15 minutes.',
    example: '2000',
    defaultValue: '2000',
  }),
  cloudflaredImage: envVar('CLOUDFLARED_IMAGE', envString({ min: 1, max: 255 }), {
    doc: 'cloudflared image the agents run (sent in start_tunnel; pin a version in production).',
    example: 'cloudflare/cloudflared:2025.11.1',
    defaultValue: 'cloudflare/cloudflared:latest',
  }),
  reportIntervalSeconds: envVar('REPORT_INTERVAL_SECONDS', envInt(1, 3600), {
    doc: 'Heartbeat interval given to agents; an agent missing three is offline.',
    example: '30',
    defaultValue: '30',
  }),
  commandPollWaitSeconds: envVar('COMMAND_POLL_WAIT_SECONDS', envInt(1, COMMAND_POLL_MAX_WAIT_SECONDS), {
    doc: "How long agents hold their command long-poll open (each poll's answer tells them). Every\nagent renews its poll this often, so at thousands of hosts a longer wait saves the master most\nof that work. Commands arrive at once either way. Keep it below the read timeout of any proxy\nbetween agents and master (nginx: 60 s by default; Cloudflare: 100 s).",
    example: String(COMMAND_POLL_DEFAULT_WAIT_SECONDS),
    defaultValue: String(COMMAND_POLL_DEFAULT_WAIT_SECONDS),
  }),
  agentReportBurst: envVar('AGENT_REPORT_BURST', envInt(1, 100_000), {
    doc: 'Reports (container events and snapshots) one agent may send at once: its start-up or\nreconnect burst. A report costs one token, plus one per 256 KiB of body. Above the burst, and\nabove AGENT_REPORTS_PER_MINUTE, the master answers 429 with Retry-After and the agent sends one\nsnapshot when that has passed.',
    example: '120',
    defaultValue: '120',
  }),
  agentReportsPerMinute: envVar('AGENT_REPORTS_PER_MINUTE', envInt(1, 600_000), {
    doc: 'Steady rate of report tokens per agent once its burst is spent.',
    example: '60',
    defaultValue: '60',
  }),
  admissionMaxEventLoopDelayMs: envVar('ADMISSION_MAX_EVENT_LOOP_DELAY_MS', envInt(0, 60_000), {
    doc: "Admission control: while the p99 of the master's event-loop delay over the last second is\nabove this, registrations and the first snapshot of a new host are answered 503 master_busy\nwith Retry-After (agents come back then; heartbeats and command polls of enrolled hosts are\nnever refused). 0 turns the delay check off.",
    example: '200',
    defaultValue: '200',
  }),
  admissionMaxRegistrations: envVar('ADMISSION_MAX_REGISTRATIONS', envInt(1, 100_000), {
    doc: 'Admission control: registrations and first snapshots the master answers at once; more\nare answered 503 master_busy with Retry-After.',
    example: '64',
    defaultValue: '64',
  }),
  admissionRetryAfterSeconds: envVar('ADMISSION_RETRY_AFTER_SECONDS', envInt(1, 3600), {
    doc: 'Admission control: the Retry-After of a 503 master_busy, jittered up to twice as long so\nrefused agents do not come back together.',
    example: '10',
    defaultValue: '10',
  }),
  logLevel: logLevelVar(),
};

export type MasterConfig = ConfigOf<typeof masterConfigSpec>;
