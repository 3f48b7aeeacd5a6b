"""Pure cryptographic recipes; no I/O."""
