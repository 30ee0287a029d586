-- indexes built CONCURRENTLY cannot run in a transaction: the second one fails after the first was built
CREATE INDEX CONCURRENTLY idx_users_active ON users (active);
CREATE INDEX CONCURRENTLY idx_sessions_agent ON sessions (agent_id);
