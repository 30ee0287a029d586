-- back to v1: users, templates and sessions keep every row and every v1 column.
DROP TABLE IF EXISTS user_quotas;
DROP INDEX IF EXISTS sessions_agent_id_idx;
ALTER TABLE sessions
    DROP COLUMN IF EXISTS vnc_ready,
    DROP COLUMN IF EXISTS platform_metadata,
    DROP COLUMN IF EXISTS agent_id,
    DROP COLUMN IF EXISTS platform;
ALTER TABLE catalog_templates DROP COLUMN IF EXISTS platform;
DROP TABLE IF EXISTS agent_commands;
DROP TABLE IF EXISTS agents;
