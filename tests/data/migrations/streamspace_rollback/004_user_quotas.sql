-- v2: per-user quotas, every existing user gets the defaults
CREATE TABLE user_quotas (
    user_id      INTEGER     PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    max_sessions INTEGER     NOT NULL DEFAULT 5 CHECK (max_sessions >= 0),
    max_cpu      VARCHAR(50) NOT NULL DEFAULT '4000m',
    max_memory   VARCHAR(50) NOT NULL DEFAULT '8Gi',
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

INSERT INTO user_quotas (user_id, updated_at) SELECT id, created_at FROM users;
