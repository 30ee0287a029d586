"""RedisKit keyword classes, one per area."""
