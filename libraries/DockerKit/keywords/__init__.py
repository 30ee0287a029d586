"""DockerKit's keyword classes, one module per area."""
