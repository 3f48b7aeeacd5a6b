"""Strongroom: self-hosted secure storage for micro apps."""

__version__ = "0.1.0"
