"""Contract tests of the reference stack: HTTP/WebSocket only, against running API replicas."""
