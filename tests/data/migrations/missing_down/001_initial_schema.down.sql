DROP TABLE sessions;
DROP TABLE catalog_templates;
DROP TABLE users;
