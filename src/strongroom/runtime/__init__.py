"""Runtime services for micro apps: the connector gateway (and, later, DLP and quotas)."""
