"""Token policies: how one field of one app is tokenized, who sees what, and for how long.

A policy is declared once and never changes its scheme or keys afterwards (tokens already
issued depend on them). Every field is checked here, when the policy is created, so a bad
policy is refused before any key is made: `InvalidRequestError` naming the field.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, cast

from strongroom.crypto.fpe import DOMAIN_MIN
from strongroom.errors import FormatError, InvalidRequestError
from strongroom.identity import scopes
from strongroom.tokenize import formats

Scheme = Literal["opaque", "fpe", "mask"]
Cipher = Literal["ff1", "ff3-1"]
View = Literal["plain", "masked", "redacted"]

SCHEMES: tuple[Scheme, ...] = ("opaque", "fpe", "mask")
CIPHERS: tuple[Cipher, ...] = ("ff1", "ff3-1")
#: Views from least to most revealing; a caller gets the most revealing one it is entitled to.
VIEWS: tuple[View, ...] = ("redacted", "masked", "plain")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
REGION_RE = re.compile(r"^[a-z][a-z0-9-]{0,15}$")
DATA_CLASS_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
MAX_VIEWS = 32
MAX_RETENTION_SECONDS = 100 * 365 * 86_400
TWEAK_BYTES = 8


def check_name(value: str, what: str) -> str:
    """``value`` if it is a valid app or policy name; `InvalidRequestError` otherwise."""
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise InvalidRequestError(f"{what} must be 1-63 of a-z, 0-9 and '-', starting a-z or 0-9")
    return value


@dataclass(frozen=True)
class PolicySpec:
    """What a caller declares. ``tweak`` is made by `new`; it is not a secret."""

    name: str
    region: str
    scheme: Scheme
    format: str
    data_class: str = "confidential"
    alphabet: str | None = None
    deterministic: bool = False
    cipher: Cipher = "ff1"
    vaulted: bool = True
    keep_last: int = 0
    mask_keep_last: int = 4
    retention_seconds: int | None = None
    views: Mapping[str, View] = field(default_factory=dict)
    default_view: View = "masked"
    tweak: str = ""

    def to_json(self) -> str:
        data = asdict(self)
        data["views"] = dict(self.views)
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> PolicySpec:
        return cls(**json.loads(text))

    @property
    def value_format(self) -> formats.Format:
        return formats.get(self.format, self.alphabet)

    @property
    def stores_values(self) -> bool:
        """Whether the vault keeps the value (opaque, vaulted FPE): erasure works per value."""
        return self.scheme == "opaque" or (self.scheme == "fpe" and self.vaulted)

    def view_for(self, has_scope: Callable[[str], bool]) -> View:
        """The most revealing view the caller's scopes entitle it to."""
        best = VIEWS.index(self.default_view)
        for scope, view in self.views.items():
            if VIEWS.index(view) > best and has_scope(scope):
                best = VIEWS.index(view)
        return VIEWS[best]


def new(app: str, fields: Mapping[str, Any], regions: frozenset[str]) -> PolicySpec:
    """A checked policy for ``app`` from the declared ``fields``, with a fresh tweak.

    Unset views default to plain for holders of ``tokens:reveal:<app>/<policy>`` and
    ``default_view`` (masked) for every other caller allowed to detokenize.
    """
    known = {f for f in PolicySpec.__dataclass_fields__ if f != "tweak"}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise InvalidRequestError(f"unknown policy fields: {', '.join(unknown)}")
    data = dict(fields)
    name = check_name(data.get("name", ""), "the policy name")
    if "views" not in data or data["views"] is None:
        data["views"] = {f"tokens:reveal:{app}/{name}": "plain"}
    try:
        spec = PolicySpec(**data, tweak=os.urandom(TWEAK_BYTES).hex())
    except TypeError:
        raise InvalidRequestError("a policy needs name, region, scheme and format") from None
    _check(spec, regions)
    return spec


def _check(spec: PolicySpec, regions: frozenset[str]) -> None:
    _check_types(spec)
    if spec.region not in regions:
        raise InvalidRequestError(
            f"unknown region; this server's regions: {', '.join(sorted(regions))}"
        )
    if not DATA_CLASS_RE.match(spec.data_class):
        raise InvalidRequestError("data_class must be 1-32 of a-z, 0-9 and '-'")
    if spec.scheme not in SCHEMES:
        raise InvalidRequestError(f"scheme must be one of {', '.join(SCHEMES)}")
    try:
        fmt = spec.value_format
    except FormatError as exc:
        raise InvalidRequestError(exc.detail) from None
    if spec.alphabet is not None and not 2 <= len(set(spec.alphabet)) == len(spec.alphabet):
        raise InvalidRequestError("the alphabet needs 2 or more distinct characters")
    if spec.alphabet is not None and len(spec.alphabet) > 256:
        raise InvalidRequestError("the alphabet may have at most 256 characters")
    if spec.cipher not in CIPHERS:
        raise InvalidRequestError(f"cipher must be one of {', '.join(CIPHERS)}")
    if spec.deterministic and spec.scheme != "opaque":
        raise InvalidRequestError("deterministic applies to opaque tokens (FPE always is)")
    if not spec.vaulted and spec.scheme != "fpe":
        raise InvalidRequestError("only format-preserving policies may be vaultless")
    if spec.scheme == "fpe":
        _check_fpe(spec, fmt)
    elif spec.keep_last:
        raise InvalidRequestError("keep_last applies to format-preserving policies")
    if not 0 <= spec.mask_keep_last <= 8:
        raise InvalidRequestError("mask_keep_last must be between 0 and 8")
    if spec.retention_seconds is not None:
        if not 60 <= spec.retention_seconds <= MAX_RETENTION_SECONDS:
            raise InvalidRequestError("retention_seconds must be between 60 and 100 years")
        if spec.scheme == "mask" or not spec.stores_values:
            raise InvalidRequestError("retention needs a policy that stores values")
    if spec.default_view not in VIEWS:
        raise InvalidRequestError(f"default_view must be one of {', '.join(VIEWS)}")
    if len(spec.views) > MAX_VIEWS:
        raise InvalidRequestError(f"at most {MAX_VIEWS} views")
    for scope, view in spec.views.items():
        if not isinstance(scope, str) or view not in VIEWS:
            raise InvalidRequestError(f"views map scopes to one of {', '.join(VIEWS)}")
    try:
        scopes.validate(list(spec.views))
    except InvalidRequestError:
        # A view keyed by a scope no token can carry would never apply.
        raise InvalidRequestError(
            "views must be keyed by valid scopes (e.g. tokens:reveal:<app>/<policy> or "
            "tokens:view:<app>/<name>)"
        ) from None


def _check_types(spec: PolicySpec) -> None:
    expected: dict[str, tuple[type, ...]] = {
        "region": (str,),
        "scheme": (str,),
        "format": (str,),
        "data_class": (str,),
        "alphabet": (str, type(None)),
        "deterministic": (bool,),
        "cipher": (str,),
        "vaulted": (bool,),
        "keep_last": (int,),
        "mask_keep_last": (int,),
        "retention_seconds": (int, type(None)),
        "views": (dict,),
        "default_view": (str,),
    }
    for name, types in expected.items():
        value = getattr(spec, name)
        bad_bool = isinstance(value, bool) and bool not in types
        if not isinstance(value, types) or bad_bool:
            raise InvalidRequestError(f"policy field {name} has the wrong type")


def _check_fpe(spec: PolicySpec, fmt: formats.Format) -> None:
    if not fmt.fpe:
        raise InvalidRequestError("format-preserving tokens need a format other than text")
    if not 0 <= spec.keep_last <= 8:
        raise InvalidRequestError("keep_last must be between 0 and 8")
    fixed = {"card": 12, "ssn": 9}.get(spec.format)
    if fixed is not None and len(fmt.alphabet) ** (fixed - spec.keep_last) < DOMAIN_MIN:
        raise InvalidRequestError(
            "keep_last leaves fewer enciphered characters than the 1,000,000-value "
            "domain minimum of SP 800-38G allows"
        )


def spec_fields(spec: PolicySpec) -> dict[str, Any]:
    """The policy as shown to callers (the tweak included: it is not a secret)."""
    data = cast(dict[str, Any], json.loads(spec.to_json()))
    return data
