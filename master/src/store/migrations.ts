/**
 * Versioned schema migrations, applied in order at start (see `openStore`).
 * Never edit a migration that has shipped: append a new one. `PRAGMA user_version` records how far
 * a database file has come, so an older file is brought forward and a newer one is refused.
 */
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    description: 'agents, keys, tunnels, containers, routes, ownership, conflicts, audit log, policies',
    sql: `
      CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );

      -- API keys are stored as hashes only; the secret is shown once at creation.
      CREATE TABLE agent_keys (
        id                 TEXT PRIMARY KEY,
        name               TEXT NOT NULL,
        secret_hash        TEXT NOT NULL,
        hostname_allowlist TEXT NOT NULL DEFAULT '[]',   -- JSON array of patterns, [] = any managed zone
        auto_approve       INTEGER NOT NULL DEFAULT 1,
        created_at         TEXT NOT NULL,
        revoked_at         TEXT,
        last_used_at       TEXT
      );

      CREATE TABLE agents (
        id                 TEXT PRIMARY KEY,
        key_id             TEXT NOT NULL UNIQUE REFERENCES agent_keys(id),
        name               TEXT NOT NULL,
        status             TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'revoked')),
        hostname           TEXT,
        agent_version      TEXT,
        created_at         TEXT NOT NULL,
        approved_at        TEXT,
        revoked_at         TEXT,
        last_seen_at       TEXT,
        report_sequence    INTEGER NOT NULL DEFAULT 0,
        snapshot_fingerprint TEXT
      );

      -- Tunnels we created: one per agent, plus named shared tunnels.
      CREATE TABLE tunnels (
        id          TEXT PRIMARY KEY,             -- Cloudflare tunnel id
        name        TEXT NOT NULL UNIQUE,
        account_id  TEXT NOT NULL,
        agent_id    TEXT REFERENCES agents(id),   -- NULL for a shared tunnel
        created_at  TEXT NOT NULL,
        deleted_at  TEXT
      );

      -- What each agent last reported, so a restart of the master loses nothing.
      CREATE TABLE containers (
        agent_id     TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        container_id TEXT NOT NULL,
        name         TEXT NOT NULL,
        state        TEXT NOT NULL,
        labels       TEXT NOT NULL,               -- JSON object
        ports        TEXT NOT NULL DEFAULT '[]',  -- JSON array
        networks     TEXT NOT NULL DEFAULT '{}',  -- JSON object
        updated_at   TEXT NOT NULL,
        PRIMARY KEY (agent_id, container_id)
      );

      -- Desired routes, one per (agent, container, route key).
      CREATE TABLE routes (
        id             INTEGER PRIMARY KEY,
        agent_id       TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        container_id   TEXT NOT NULL,
        container_name TEXT NOT NULL,
        route_key      TEXT NOT NULL,
        hostname       TEXT,                      -- NULL only for an invalid route without one
        path           TEXT NOT NULL DEFAULT '',
        service        TEXT,
        zone           TEXT,
        tunnel_name    TEXT,                      -- label-named shared tunnel, else the agent's own
        spec           TEXT NOT NULL DEFAULT '{}', -- JSON: originRequest, access, dns, cleanup
        status         TEXT NOT NULL CHECK (status IN
                         ('active', 'pending_deletion', 'invalid', 'conflict', 'error', 'revoked')),
        status_message TEXT,
        problems       TEXT NOT NULL DEFAULT '[]', -- JSON array of label problems
        delete_after   TEXT,                      -- deadline while pending_deletion
        claimed_at     TEXT NOT NULL,             -- first claim wins a hostname conflict
        created_at     TEXT NOT NULL,
        updated_at     TEXT NOT NULL,
        UNIQUE (agent_id, container_id, route_key)
      );
      CREATE INDEX routes_by_hostname ON routes(hostname, path);
      CREATE INDEX routes_by_status ON routes(status, delete_after);

      -- Every Cloudflare object Tunnelfleet created or adopted; nothing else is ever edited or deleted.
      CREATE TABLE owned_objects (
        id          INTEGER PRIMARY KEY,
        kind        TEXT NOT NULL CHECK (kind IN ('dns_record', 'ingress_rule', 'access_app', 'access_policy')),
        cf_id       TEXT,                         -- record/app/policy id; NULL for ingress rules
        account_id  TEXT,
        zone_id     TEXT,
        tunnel_id   TEXT,
        hostname    TEXT,
        path        TEXT NOT NULL DEFAULT '',
        adopted     INTEGER NOT NULL DEFAULT 0,
        created_at  TEXT NOT NULL,
        UNIQUE (kind, tunnel_id, hostname, path, cf_id)
      );
      CREATE INDEX owned_by_hostname ON owned_objects(kind, hostname, path);

      CREATE TABLE conflicts (
        id             INTEGER PRIMARY KEY,
        kind           TEXT NOT NULL CHECK (kind IN ('hostname_claimed', 'foreign_dns_record', 'foreign_access_app', 'outside_allowlist')),
        hostname       TEXT NOT NULL,
        path           TEXT NOT NULL DEFAULT '',
        route_id       INTEGER REFERENCES routes(id) ON DELETE CASCADE, -- the route that lost
        holder_route_id INTEGER REFERENCES routes(id) ON DELETE SET NULL,
        message        TEXT NOT NULL,
        detected_at    TEXT NOT NULL,
        resolved_at    TEXT
      );

      -- Named Access policies defined on the master and referenced by label.
      CREATE TABLE access_policies (
        id           TEXT PRIMARY KEY,
        name         TEXT NOT NULL UNIQUE,
        spec         TEXT NOT NULL,               -- JSON
        cf_policy_id TEXT,
        created_at   TEXT NOT NULL,
        updated_at   TEXT NOT NULL
      );

      -- Every admin action and every Cloudflare write.
      CREATE TABLE audit_log (
        id      INTEGER PRIMARY KEY,
        at      TEXT NOT NULL,
        actor   TEXT NOT NULL,                    -- 'admin', 'agent:<id>', 'system'
        action  TEXT NOT NULL,
        target  TEXT,
        details TEXT NOT NULL DEFAULT '{}'        -- JSON, never holding a secret
      );
      CREATE INDEX audit_by_time ON audit_log(at);
    `,
  },
  {
    version: 2,
    description: 'a service policy per agent key',
    // Keys made before this migration get the default policy: their agents' loopback, metadata,
    // unix, bastion and SOCKS routes turn invalid until a key that allows them replaces it.
    sql: `
      ALTER TABLE agent_keys ADD COLUMN service_policy TEXT NOT NULL
        DEFAULT '{"allow":[],"containerOnly":false}';  -- JSON, see servicePolicySchema
    `,
  },
  {
    version: 3,
    description: 'routes belong to a compose service or a container name, and keep who served them',
    sql: `
      -- Who a route belongs to on its agent (see routes/route-identity.ts): a successor with the
      -- same identity takes the row over instead of claiming the hostname again.
      ALTER TABLE routes ADD COLUMN identity TEXT NOT NULL DEFAULT '';
      -- How many running containers of that identity carry the route (compose --scale); one serves.
      ALTER TABLE routes ADD COLUMN replicas INTEGER NOT NULL DEFAULT 1;
      -- JSON array of the containers that served the route before, newest first.
      ALTER TABLE routes ADD COLUMN replaced TEXT NOT NULL DEFAULT '[]';
      UPDATE routes SET identity = coalesce(
        (SELECT 'compose:' || json_extract(c.labels, '$."com.docker.compose.project"') || '/' ||
                json_extract(c.labels, '$."com.docker.compose.service"')
         FROM containers c
         WHERE c.agent_id = routes.agent_id AND c.container_id = routes.container_id
           AND json_extract(c.labels, '$."com.docker.compose.project"') IS NOT NULL
           AND json_extract(c.labels, '$."com.docker.compose.service"') IS NOT NULL),
        'container:' || container_name);
      CREATE INDEX routes_by_identity ON routes(agent_id, identity, route_key);
    `,
  },
  {
    version: 4,
    description: 'agent keys: an explicit "any hostname" scope; retained routes get ids',
    sql: `
      -- A key must now be scoped on purpose: an allowlist, or "any hostname" chosen explicitly.
      -- Keys from before, whose empty allowlist meant "any", keep that meaning, now shown as such.
      ALTER TABLE agent_keys ADD COLUMN allow_any_hostname INTEGER NOT NULL DEFAULT 0;
      UPDATE agent_keys SET allow_any_hostname = 1 WHERE hostname_allowlist = '[]';

      -- Retained routes (a JSON document in settings) get the ids the admin API deletes them by.
      UPDATE settings
         SET value = (SELECT json_group_array(json_set(kept.value, '$.id', 'rr_' || lower(hex(randomblob(8)))))
                        FROM json_each(settings.value) AS kept)
       WHERE key = 'routes.retained' AND json_valid(value);
    `,
  },
  {
    version: 5,
    description: 'command versions known to the store; paused tunnels',
    sql: `
      -- Highest command version issued to the agent or reported applied by it: the floor of the
      -- Redis counter, so versions never go backwards when Redis loses its data.
      ALTER TABLE agents ADD COLUMN command_version INTEGER NOT NULL DEFAULT 0;
      -- Set while an operator keeps the agent's tunnel stopped; registration does not restart it.
      ALTER TABLE agents ADD COLUMN paused_at TEXT;
    `,
  },
  {
    version: 6,
    description: 'alert receivers, the alert outbox and its deliveries; route status triggers',
    sql: `
      -- Webhook receivers. The secret is the HMAC key itself (a signature needs it, a hash would not
      -- do), kept in this 0600 file like the rest of the master's state and never shown again.
      CREATE TABLE alert_receivers (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        url         TEXT NOT NULL,
        format      TEXT NOT NULL CHECK (format IN ('generic', 'slack', 'discord', 'ntfy')),
        events      TEXT NOT NULL DEFAULT '[]',   -- JSON array of event types; empty = all
        secret      TEXT NOT NULL,
        enabled     INTEGER NOT NULL DEFAULT 1,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
      );

      -- The outbox: every event, written in the same transaction as what caused it where SQLite
      -- is the cause, and fanned out to receivers' deliveries by the alert service.
      CREATE TABLE alert_events (
        seq          INTEGER PRIMARY KEY,
        id           TEXT NOT NULL UNIQUE DEFAULT ('ev_' || lower(hex(randomblob(8)))),
        type         TEXT NOT NULL,
        occurred_at  TEXT NOT NULL,
        data         TEXT NOT NULL DEFAULT '{}',  -- JSON, never holding a secret
        receiver_id  TEXT,                        -- set for a test event: that receiver only
        fanned_out   INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX alert_events_to_fan_out ON alert_events(fanned_out, seq);

      CREATE TABLE alert_deliveries (
        id               INTEGER PRIMARY KEY,
        event_seq        INTEGER NOT NULL REFERENCES alert_events(seq) ON DELETE CASCADE,
        receiver_id      TEXT NOT NULL REFERENCES alert_receivers(id) ON DELETE CASCADE,
        status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts         INTEGER NOT NULL DEFAULT 0,
        next_attempt_at  TEXT,
        last_error       TEXT,
        created_at       TEXT NOT NULL,
        delivered_at     TEXT
      );
      CREATE INDEX alert_deliveries_due ON alert_deliveries(status, next_attempt_at);

      -- A route entering error or conflict, however it gets there (routes engine, claims, syncs):
      -- one event per transition, never one per sync that confirms the same status.
      CREATE TRIGGER routes_alert_on_insert AFTER INSERT ON routes
        WHEN NEW.status IN ('error', 'conflict')
      BEGIN
        INSERT INTO alert_events (type, occurred_at, data) VALUES ('route.' || NEW.status, NEW.updated_at,
          json_object('routeId', NEW.id, 'agentId', NEW.agent_id, 'hostname', NEW.hostname, 'path', NEW.path,
                      'containerName', NEW.container_name, 'message', NEW.status_message));
      END;
      CREATE TRIGGER routes_alert_on_status AFTER UPDATE OF status ON routes
        WHEN NEW.status IN ('error', 'conflict') AND OLD.status IS NOT NEW.status
      BEGIN
        INSERT INTO alert_events (type, occurred_at, data) VALUES ('route.' || NEW.status, NEW.updated_at,
          json_object('routeId', NEW.id, 'agentId', NEW.agent_id, 'hostname', NEW.hostname, 'path', NEW.path,
                      'containerName', NEW.container_name, 'previousStatus', OLD.status,
                      'message', NEW.status_message));
      END;
    `,
  },
  {
    version: 7,
    description: "cloudflared's image and settings, for the fleet and per agent",
    sql: `
      -- The row without an agent is the fleet default; an agent's row overrides it field by field.
      -- image NULL: the fleet's (or the master's CLOUDFLARED_IMAGE); settings: JSON, typed by
      -- cloudflaredTunnelOptionsSchema, {} = cloudflared's defaults.
      CREATE TABLE cloudflared_configs (
        id          INTEGER PRIMARY KEY,
        agent_id    TEXT UNIQUE REFERENCES agents(id) ON DELETE CASCADE,
        image       TEXT,
        settings    TEXT NOT NULL DEFAULT '{}',
        updated_at  TEXT NOT NULL
      );
      -- UNIQUE lets many NULLs through: one fleet row only.
      CREATE UNIQUE INDEX cloudflared_configs_one_fleet ON cloudflared_configs((agent_id IS NULL))
        WHERE agent_id IS NULL;
    `,
  },
  {
    version: 8,
    description: "an agent's custom DockFlare and Labelgate label prefixes",
    sql: `
      -- JSON, typed by LabelPrefixes ({} = the default prefixes); sent with each registration.
      ALTER TABLE agents ADD COLUMN label_prefixes TEXT NOT NULL DEFAULT '{}';
    `,
  },
  {
    version: 9,
    description: 'rolling upgrades of the fleet cloudflared image',
    sql: `
      -- One row per rollout; at most one is running. previous_image is what hosts that have not
      -- (or no longer) the new one run meanwhile; previous_fleet_image is the fleet row's image
      -- before (NULL: the master's CLOUDFLARED_IMAGE), put back when the rollout halts.
      CREATE TABLE cloudflared_rollouts (
        id                    TEXT PRIMARY KEY,
        image                 TEXT NOT NULL,
        previous_image        TEXT NOT NULL,
        previous_fleet_image  TEXT,
        status                TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'halted')),
        canary_size           INTEGER NOT NULL,
        wave_size             INTEGER NOT NULL,
        wave_timeout_seconds  INTEGER NOT NULL,
        started_at            TEXT NOT NULL,
        finished_at           TEXT,
        halt_reason           TEXT
      );
      CREATE UNIQUE INDEX cloudflared_rollouts_one_running ON cloudflared_rollouts(status)
        WHERE status = 'running';

      -- wave 0 is the canary; NULL for a skipped host. wave_started_at: when its wave was sent
      -- the new image (its deadline survives a master restart).
      CREATE TABLE cloudflared_rollout_hosts (
        rollout_id       TEXT NOT NULL REFERENCES cloudflared_rollouts(id) ON DELETE CASCADE,
        agent_id         TEXT NOT NULL,
        wave             INTEGER,
        state            TEXT NOT NULL CHECK (state IN ('pending', 'upgrading', 'ready', 'failed',
                                                        'rolling_back', 'rolled_back', 'skipped')),
        detail           TEXT,
        wave_started_at  TEXT,
        updated_at       TEXT NOT NULL,
        PRIMARY KEY (rollout_id, agent_id)
      );
    `,
  },
  {
    version: 10,
    description: 'shared tunnels and their member agents',
    sql: `
      -- A tunnel several agents run a connector for. Its Cloudflare tunnel also has a row in
      -- tunnels (agent_id NULL), which the reconciler syncs like any other tunnel.
      CREATE TABLE shared_tunnels (
        name        TEXT PRIMARY KEY,
        tunnel_id   TEXT NOT NULL UNIQUE,
        created_at  TEXT NOT NULL
      );
      CREATE TABLE shared_tunnel_members (
        tunnel_name  TEXT NOT NULL REFERENCES shared_tunnels(name) ON DELETE CASCADE,
        agent_id     TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        added_at     TEXT NOT NULL,
        PRIMARY KEY (tunnel_name, agent_id)
      );
      CREATE INDEX shared_tunnel_members_agent ON shared_tunnel_members(agent_id);
    `,
  },
  {
    version: 11,
    description: 'dashboard: read-only viewer tokens and sign-in sessions',
    sql: `
      -- Viewer tokens (tfv_<id>_<secret>) sign in to the dashboard read-only; hashes only.
      CREATE TABLE viewer_tokens (
        id           TEXT PRIMARY KEY,
        name         TEXT NOT NULL,
        secret_hash  TEXT NOT NULL,
        created_at   TEXT NOT NULL,
        revoked_at   TEXT,
        last_used_at TEXT
      );
      -- One row per signed-in browser: the cookie's hash, never the cookie (the CSRF token derives from it).
      CREATE TABLE dashboard_sessions (
        id_hash         TEXT PRIMARY KEY,
        ref             TEXT NOT NULL UNIQUE,     -- public short id the audit log names
        role            TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
        viewer_token_id TEXT REFERENCES viewer_tokens(id) ON DELETE CASCADE,
        created_at      TEXT NOT NULL,
        expires_at      TEXT NOT NULL
      );
      CREATE INDEX dashboard_sessions_by_expiry ON dashboard_sessions(expires_at);
    `,
  },
  {
    version: 12,
    description: 'routes by zone: a zone sync reads only its own routes',
    sql: `
      CREATE INDEX routes_by_zone ON routes(zone);
    `,
  },
  {
    version: 13,
    description: "each agent's L7 gateway as its last heartbeat reported it",
    sql: `
      -- What decides whether the agent's routes through its gateway are published (read by the
      -- reconciler with the rest of the desired state); the full report stays in the heartbeat.
      -- No row: the agent runs no gateway.
      CREATE TABLE agent_gateways (
        agent_id     TEXT PRIMARY KEY REFERENCES agents(id) ON DELETE CASCADE,
        ready        INTEGER NOT NULL,
        service_url  TEXT,
        updated_at   TEXT NOT NULL
      );
    `,
  },
  {
    version: 14,
    description: 'conflicts with a foreign ingress rule are recorded, so an admin can adopt the rule',
    sql: `
      -- SQLite cannot change a CHECK: the table is copied into one that allows the new kind.
      CREATE TABLE conflicts_next (
        id             INTEGER PRIMARY KEY,
        kind           TEXT NOT NULL CHECK (kind IN ('hostname_claimed', 'foreign_dns_record', 'foreign_access_app', 'foreign_ingress_rule', 'outside_allowlist')),
        hostname       TEXT NOT NULL,
        path           TEXT NOT NULL DEFAULT '',
        route_id       INTEGER REFERENCES routes(id) ON DELETE CASCADE,
        holder_route_id INTEGER REFERENCES routes(id) ON DELETE SET NULL,
        message        TEXT NOT NULL,
        detected_at    TEXT NOT NULL,
        resolved_at    TEXT
      );
      INSERT INTO conflicts_next (id, kind, hostname, path, route_id, holder_route_id, message, detected_at, resolved_at)
        SELECT id, kind, hostname, path, route_id, holder_route_id, message, detected_at, resolved_at FROM conflicts;
      DROP TABLE conflicts;
      ALTER TABLE conflicts_next RENAME TO conflicts;
    `,
  },
  {
    version: 15,
    description:
      'indexes for the per-report and per-sync look-ups that scanned whole tables (found at 2,000 approved hosts)',
    sql: `
      CREATE INDEX tunnels_by_agent ON tunnels(agent_id);
      CREATE INDEX conflicts_by_route ON conflicts(route_id, resolved_at);
      CREATE INDEX owned_by_zone ON owned_objects(kind, zone_id);
      CREATE INDEX owned_by_hostname_any_kind ON owned_objects(hostname);
    `,
  },
  {
    version: 16,
    description: "routes the host's gateway refused (it serves the rest): withheld, their status says why",
    sql: `
      -- What the agent's last heartbeat said its gateway refused, for its own routes only (the
      -- master matches each id to a route of that agent). Read by the reconciler with the rest of
      -- the desired state.
      CREATE TABLE gateway_refusals (
        route_id    INTEGER PRIMARY KEY REFERENCES routes(id) ON DELETE CASCADE,
        agent_id    TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        code        TEXT NOT NULL,
        message     TEXT NOT NULL,
        updated_at  TEXT NOT NULL
      );
      CREATE INDEX gateway_refusals_by_agent ON gateway_refusals(agent_id);
    `,
  },
  {
    version: 17,
    description:
      "indexes for the drift checks' minute-by-minute list of targets, which read every route and record (found at 10,000 hosts)",
    sql: `
      -- The routes that ask for Access, in the expression iterateRoutes uses: without Access, none.
      CREATE INDEX routes_asking_access ON routes(id)
        WHERE CASE WHEN json_valid(spec) THEN json_extract(spec, '$.access') END IS NOT NULL;
      -- The hostname too, so that each zone's first name is read from the index.
      DROP INDEX owned_by_zone;
      CREATE INDEX owned_by_zone ON owned_objects(kind, zone_id, hostname);
    `,
  },
];
