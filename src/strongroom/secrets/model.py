"""What the secrets service passes around: metadata in, metadata out, and sealed values.

`SecretValue` is the only type that holds a value; its repr hides it and it refuses to
pickle. Everything else carries names, versions and metadata only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DATA_CLASSES = ("public", "internal", "confidential", "restricted")
MAX_TAGS = 16
MAX_DESCRIPTION = 512


@dataclass(frozen=True)
class MetaInput:
    """Metadata a writer sets. ``None`` fields keep their current value on update."""

    owner: str | None = None
    description: str | None = None
    tags: dict[str, str] | None = None
    data_class: str | None = None
    rotation_period_s: int | None = None
    expires_us: int | None = None
    #: Set to clear ``rotation_period_s`` / ``expires_us`` (``None`` means "keep").
    clear: frozenset[str] = frozenset()


@dataclass(frozen=True)
class VersionInfo:
    version: int
    created_us: int
    destroyed: bool


@dataclass(frozen=True)
class SecretMeta:
    """A secret as listings show it: never its value."""

    app: str
    name: str
    owner: str
    description: str
    tags: dict[str, str]
    data_class: str
    rotation_period_s: int | None
    expires_us: int | None
    current_version: int
    created_us: int
    updated_us: int
    rotated_us: int
    deleted: bool
    disabled: bool
    versions: tuple[VersionInfo, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.app}/{self.name}"

    def due_us(self) -> int | None:
        """When the secret next needs rotating (period or expiry, the earlier); None if never."""
        times = []
        if self.rotation_period_s is not None:
            times.append(self.rotated_us + self.rotation_period_s * 1_000_000)
        if self.expires_us is not None:
            times.append(self.expires_us)
        return min(times) if times else None


@dataclass(frozen=True)
class SecretValue:
    """One version's value. The value never shows in a repr and cannot be pickled."""

    app: str
    name: str
    version: int
    value: bytes = field(repr=False)

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("secret values cannot be pickled")
