-- built without locking writers: cannot run inside a transaction
CREATE INDEX CONCURRENTLY idx_agent_commands_session_id ON agent_commands (session_id);
