-- a small v1 schema: the broken step that follows is what this set is about
CREATE TABLE users (
    id       SERIAL PRIMARY KEY,
    username VARCHAR(255) NOT NULL UNIQUE,
    active   BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE sessions (
    id      VARCHAR(255) PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    state   VARCHAR(50) NOT NULL DEFAULT 'pending'
);
