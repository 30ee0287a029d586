-- v2: sessions know their platform and agent; v1 sessions are backfilled
ALTER TABLE sessions ADD COLUMN platform VARCHAR(50);
ALTER TABLE sessions ADD COLUMN agent_id VARCHAR(255);
ALTER TABLE sessions ADD COLUMN platform_metadata JSONB NOT NULL DEFAULT '{}'::jsonb;

-- every v1 session ran on Kubernetes through the one (legacy) controller: give it an agent row
INSERT INTO agents (id, agent_id, platform, status, metadata, created_at)
SELECT md5('k8s-legacy')::uuid, 'k8s-legacy', 'kubernetes', 'offline', '{"backfilled": true}'::jsonb,
       min(created_at)
FROM sessions
HAVING count(*) > 0
ON CONFLICT (agent_id) DO NOTHING;

UPDATE sessions SET platform = 'kubernetes', agent_id = 'k8s-legacy' WHERE platform IS NULL;

ALTER TABLE sessions ALTER COLUMN platform SET DEFAULT 'kubernetes';
ALTER TABLE sessions ALTER COLUMN platform SET NOT NULL;
ALTER TABLE sessions ADD CONSTRAINT sessions_platform_check CHECK (platform IN ('kubernetes', 'docker'));
ALTER TABLE sessions ADD CONSTRAINT sessions_agent_id_fkey
    FOREIGN KEY (agent_id) REFERENCES agents (agent_id) ON DELETE SET NULL;
CREATE INDEX idx_sessions_agent_id ON sessions (agent_id);
