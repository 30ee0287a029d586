-- statement 3 misses a comma: the step must roll back as a whole
CREATE TABLE agents (
    id       UUID         PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id VARCHAR(255) NOT NULL UNIQUE,
    platform VARCHAR(50)  NOT NULL
);

CREATE INDEX idx_agents_platform ON agents (platform);

CREATE TABLE agent_commands (
    id         SERIAL PRIMARY KEY,
    command_id VARCHAR(255) NOT NULL UNIQUE
    agent_id   VARCHAR(255) NOT NULL REFERENCES agents (agent_id) ON DELETE CASCADE
);

CREATE INDEX idx_agent_commands_agent ON agent_commands (agent_id);
