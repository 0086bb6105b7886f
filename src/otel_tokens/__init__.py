"""otel-tokens."""
