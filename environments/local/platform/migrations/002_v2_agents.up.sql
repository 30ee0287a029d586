-- v2: platform agents, durable agent commands, per-session platform/agent columns, user quotas.
CREATE TABLE agents (
    id             UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id       TEXT NOT NULL UNIQUE,
    platform       TEXT NOT NULL CHECK (platform IN ('kubernetes', 'docker')),
    region         TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL DEFAULT 'offline' CHECK (status IN ('online', 'offline', 'draining')),
    capacity       JSONB NOT NULL DEFAULT '{}'::jsonb,
    last_heartbeat TIMESTAMPTZ,
    metadata       JSONB NOT NULL DEFAULT '{}'::jsonb,
    connected_pod  TEXT,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE agent_commands (
    id              BIGSERIAL PRIMARY KEY,
    command_id      TEXT NOT NULL UNIQUE,
    agent_id        TEXT NOT NULL REFERENCES agents (agent_id) ON DELETE CASCADE,
    session_id      TEXT,
    action          TEXT NOT NULL
                    CHECK (action IN ('start_session', 'stop_session', 'hibernate_session', 'wake_session')),
    payload         JSONB NOT NULL DEFAULT '{}'::jsonb,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'ack', 'completed', 'failed')),
    error_message   TEXT,
    result          JSONB,
    attempts        INTEGER NOT NULL DEFAULT 0,
    delivered_by    TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at         TIMESTAMPTZ,
    acknowledged_at TIMESTAMPTZ,
    completed_at    TIMESTAMPTZ
);

CREATE INDEX agent_commands_agent_status_idx ON agent_commands (agent_id, status);
CREATE INDEX agent_commands_session_idx ON agent_commands (session_id);

ALTER TABLE catalog_templates ADD COLUMN platform TEXT CHECK (platform IN ('kubernetes', 'docker'));
UPDATE catalog_templates
   SET platform = CASE WHEN manifest -> 'spec' ->> 'platform' IN ('kubernetes', 'docker')
                       THEN manifest -> 'spec' ->> 'platform' ELSE 'kubernetes' END;

ALTER TABLE sessions
    ADD COLUMN platform          TEXT,
    ADD COLUMN agent_id          TEXT REFERENCES agents (agent_id) ON DELETE SET NULL,
    ADD COLUMN platform_metadata JSONB NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN vnc_ready         BOOLEAN NOT NULL DEFAULT FALSE;
-- backfill: v1 ran Kubernetes only; a session takes its template's platform
UPDATE sessions s
   SET platform = COALESCE((SELECT t.platform FROM catalog_templates t WHERE t.name = s.template_name), 'kubernetes');
ALTER TABLE sessions ALTER COLUMN platform SET DEFAULT 'kubernetes', ALTER COLUMN platform SET NOT NULL;
CREATE INDEX sessions_agent_id_idx ON sessions (agent_id);

CREATE TABLE user_quotas (
    user_id      TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    max_sessions INTEGER NOT NULL DEFAULT 5 CHECK (max_sessions >= 0),
    max_cpu      TEXT NOT NULL DEFAULT '4000m',
    max_memory   TEXT NOT NULL DEFAULT '8Gi',
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- backfill: every existing user gets the default quota
INSERT INTO user_quotas (user_id) SELECT id FROM users;
