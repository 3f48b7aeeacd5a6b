"""The Python SDK for micro apps: imports only `strongroom.crypto` and httpx."""
