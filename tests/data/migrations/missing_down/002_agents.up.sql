-- no 002_agents.down.sql on purpose: going down past this step must be refused
CREATE TABLE agents (
    agent_id VARCHAR(255) PRIMARY KEY,
    platform VARCHAR(50)  NOT NULL
);
