"""Key management: the root key's seal, the keyring it opens, and the storage barrier."""
