"""Identity: who is calling (principals), with which scopes, proven by which token."""
