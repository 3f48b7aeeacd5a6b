"""The audit trail: one event per security-relevant action, appended in its transaction."""
