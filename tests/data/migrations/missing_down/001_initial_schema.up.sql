-- v1: users, session templates and sessions (no agent columns yet)
CREATE TABLE users (
    id            SERIAL PRIMARY KEY,
    username      VARCHAR(255) NOT NULL UNIQUE,
    email         VARCHAR(255) NOT NULL UNIQUE,
    full_name     VARCHAR(255),
    role          VARCHAR(50)  NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'operator', 'admin')),
    password_hash TEXT         NOT NULL,
    active        BOOLEAN      NOT NULL DEFAULT true,
    created_at    TIMESTAMPTZ  NOT NULL DEFAULT now()
);

CREATE TABLE catalog_templates (
    id           SERIAL PRIMARY KEY,
    name         VARCHAR(255) NOT NULL UNIQUE,
    display_name VARCHAR(255) NOT NULL,
    category     VARCHAR(100),
    manifest     JSONB        NOT NULL DEFAULT '{}'::jsonb,
    created_at   TIMESTAMPTZ  NOT NULL DEFAULT now()
);

CREATE TABLE sessions (
    id              VARCHAR(255) PRIMARY KEY,
    user_id         INTEGER      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    template_name   VARCHAR(255) NOT NULL,
    state           VARCHAR(50)  NOT NULL DEFAULT 'pending',
    namespace       VARCHAR(255) NOT NULL DEFAULT 'streamspace',
    pod_name        VARCHAR(255),
    memory          VARCHAR(50),
    cpu             VARCHAR(50),
    persistent_home BOOLEAN      NOT NULL DEFAULT false,
    tags            TEXT[]       NOT NULL DEFAULT '{}',
    created_at      TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ  NOT NULL DEFAULT now()
);

CREATE INDEX idx_sessions_user_id ON sessions (user_id);
CREATE INDEX idx_sessions_state ON sessions (state);
