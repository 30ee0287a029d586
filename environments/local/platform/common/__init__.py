"""Small pieces shared by the API replicas and the agents (keep them stable and tiny)."""
