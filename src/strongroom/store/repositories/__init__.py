"""Repositories: the only code that issues queries. Each takes the session it works in."""
