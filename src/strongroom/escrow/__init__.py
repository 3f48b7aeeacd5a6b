"""Key escrow and audited recovery (opt-in, per app)."""
