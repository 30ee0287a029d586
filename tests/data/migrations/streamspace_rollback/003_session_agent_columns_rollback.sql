DROP INDEX idx_sessions_agent_id;
ALTER TABLE sessions DROP CONSTRAINT sessions_agent_id_fkey;
ALTER TABLE sessions DROP CONSTRAINT sessions_platform_check;
ALTER TABLE sessions DROP COLUMN platform_metadata;
ALTER TABLE sessions DROP COLUMN agent_id;
ALTER TABLE sessions DROP COLUMN platform;
DELETE FROM agents WHERE agent_id = 'k8s-legacy';
