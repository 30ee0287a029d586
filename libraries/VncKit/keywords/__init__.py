"""VncKit's keyword classes, one per area."""
