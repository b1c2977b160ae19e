"""Real services for tests and demos, started by the project itself (fenix.testing.nova)."""
