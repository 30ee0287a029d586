-- data at schema version 1: three users, two templates, four sessions
INSERT INTO users (username, email, full_name, role, password_hash, active, created_at) VALUES
    ('admin', 'admin@example.test', 'Admin', 'admin', 'x1', true, '2025-01-01T10:00:00Z'),
    ('alice', 'alice@example.test', 'Alice A', 'user', 'x2', true, '2025-01-02T10:00:00Z'),
    ('bob', 'bob@example.test', NULL, 'user', 'x3', false, '2025-01-03T10:00:00Z');

INSERT INTO catalog_templates (name, display_name, category, manifest, created_at) VALUES
    ('firefox', 'Firefox', 'browsers', '{"spec": {"baseImage": "firefox:1", "vnc": {"enabled": true, "port": 5900}}}',
     '2025-01-01T09:00:00Z'),
    ('vscode', 'VS Code', 'development', '{"spec": {"baseImage": "vscode:1"}}', '2025-01-01T09:30:00Z');

INSERT INTO sessions (id, user_id, template_name, state, namespace, pod_name, memory, cpu, persistent_home, tags,
                      created_at, updated_at) VALUES
    ('alice-firefox-0a1b2c3d', 2, 'firefox', 'running', 'streamspace', 'alice-firefox-0a1b2c3d-pod', '2Gi', '1000m',
     true, '{web,"a;b"}', '2025-02-01T08:00:00Z', '2025-02-01T08:05:00Z'),
    ('alice-vscode-11223344', 2, 'vscode', 'hibernated', 'streamspace', NULL, '4Gi', '2000m', false, '{}',
     '2025-02-02T08:00:00Z', '2025-02-02T09:00:00Z'),
    ('bob-firefox-deadbeef', 3, 'firefox', 'terminated', 'streamspace', NULL, '1Gi', '500m', false, '{old}',
     '2025-02-03T08:00:00Z', '2025-02-03T08:30:00Z'),
    ('admin-vscode-cafebabe', 1, 'vscode', 'running', 'team-a', 'admin-vscode-cafebabe-pod', '8Gi', '4000m', true,
     '{admin,"it''s"}', '2025-02-04T08:00:00Z', '2025-02-04T08:00:00Z');
