-- v2: platform agents and the commands the Control Plane sends them
CREATE TABLE agents (
    id             UUID         PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id       VARCHAR(255) NOT NULL UNIQUE,
    platform       VARCHAR(50)  NOT NULL CHECK (platform IN ('kubernetes', 'docker')),
    region         VARCHAR(100),
    status         VARCHAR(50)  NOT NULL DEFAULT 'offline' CHECK (status IN ('online', 'offline', 'draining')),
    capacity       JSONB        NOT NULL DEFAULT '{}'::jsonb,
    last_heartbeat TIMESTAMPTZ,
    metadata       JSONB        NOT NULL DEFAULT '{}'::jsonb,
    created_at     TIMESTAMPTZ  NOT NULL DEFAULT now()
);

CREATE INDEX idx_agents_platform_status ON agents (platform, status);

CREATE TABLE agent_commands (
    id              SERIAL PRIMARY KEY,
    command_id      VARCHAR(255) NOT NULL UNIQUE,
    agent_id        VARCHAR(255) NOT NULL REFERENCES agents (agent_id) ON DELETE CASCADE,
    session_id      VARCHAR(255),
    action          VARCHAR(50)  NOT NULL
                    CHECK (action IN ('start_session', 'stop_session', 'hibernate_session', 'wake_session')),
    payload         JSONB        NOT NULL DEFAULT '{}'::jsonb,
    status          VARCHAR(50)  NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'ack', 'completed', 'failed')),
    error_message   TEXT,
    created_at      TIMESTAMPTZ  NOT NULL DEFAULT now(),
    sent_at         TIMESTAMPTZ,
    acknowledged_at TIMESTAMPTZ,
    completed_at    TIMESTAMPTZ
);

CREATE INDEX idx_agent_commands_agent_status ON agent_commands (agent_id, status);
