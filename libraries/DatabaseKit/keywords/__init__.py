"""DatabaseKit keyword classes, one per area."""
