DROP TABLE user_quotas;
