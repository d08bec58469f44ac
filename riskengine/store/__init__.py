"""The SQL store: decisions, limit register, overrides (shell)."""
