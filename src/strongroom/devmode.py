"""Dev mode: a server that initialises and unseals itself, for trying Strongroom out.

The single unseal key share is kept in a file next to the database, so dev mode protects
nothing: anyone who can read the data directory can read every secret. The server says so
loudly when it starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from strongroom.errors import ConfigError
from strongroom.identity import root_tokens
from strongroom.node import Call, Node

WARNING = (
    "DEV MODE: the unseal key is stored next to the data and a root token is printed. "
    "Do not put real data in this server."
)


@dataclass(frozen=True)
class DevSession:
    root_token: str
    unseal_key_file: Path

    def __repr__(self) -> str:
        return f"DevSession(unseal_key_file={self.unseal_key_file!s})"


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def bootstrap(node: Node) -> DevSession:
    """Initialise (1 share) if needed, unseal from the key file, issue a dev root token."""
    settings = node.settings
    if not settings.dev:
        raise ConfigError("dev bootstrap outside dev mode")
    key_file = settings.resolved_dev_unseal_key_file
    call = Call(request_id="dev-bootstrap", actor="dev")
    if not node.status().initialized:
        done = node.initialize(call, shares=1, threshold=1)
        _write_private(key_file, done.result.shares[0])
    if not key_file.is_file():
        raise ConfigError(
            "this data directory was initialised outside dev mode: unseal it with its shares"
        )
    node.unseal(call, key_file.read_text(encoding="ascii").strip())
    fixed = settings.dev_root_token.get_secret_value() if settings.dev_root_token else None
    with node.recorder.action(call.request_id, call.actor, "sys.dev.root_token", "sys/dev") as tx:
        token = root_tokens.replace_dev(tx.session, node.clock, fixed)
    return DevSession(root_token=token, unseal_key_file=key_file)
