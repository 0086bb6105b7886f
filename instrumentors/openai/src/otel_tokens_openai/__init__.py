"""otel-tokens openai instrumentor."""
