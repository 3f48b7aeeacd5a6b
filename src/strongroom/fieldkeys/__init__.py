"""App keys for client-side field encryption, derived from the keyring."""
