"""Typed settings: environment (``STRONGROOM_*``) over an optional TOML file over defaults.

Settings are validated once, at start; an invalid value is refused with a `ConfigError`
that names the setting but never echoes its value (a value may be a secret). Dev-only
options are refused outside dev mode. Several defaults double as denial-of-service bounds.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from strongroom.defaults import DEFAULT_ADDR
from strongroom.errors import ConfigError

#: The longest an access token may ever live, whatever the configuration says (15 min).
TOKEN_TTL_HARD_CEILING = 900
#: Scope entitlements of the roles groups map to (patterns: a trailing * is a prefix).
#: What each role may hold (a trailing * matches any suffix). Humans never hold
#: ``secrets:read:`` through a role of their own but app-user, whose tokens an app's runtime
#: uses on a user's behalf; reviewers approve but never submit.
DEFAULT_ROLE_SCOPES: dict[str, list[str]] = {
    "admin": [
        "sys:*",
        "audit:*",
        "apps:read",
        "tokens:introspect",
        "tokens:revoke",
        "clients:manage",
    ],
    "reviewer": ["sys:read", "audit:read", "apps:read", "reviews:approve", "escrow:approve"],
    "app-owner": [
        "sys:read",
        "apps:submit",
        "apps:read",
        "secrets:write:*",
        "secrets:list:*",
        "tokens:admin:*",
        "tokens:tokenize:*",
        "tokens:detokenize:*",
        "fields:app-key:*",
        "escrow:deposit",
        "escrow:request",
    ],
    "app-user": ["secrets:read:*", "tokens:tokenize:*", "fields:app-key:*", "escrow:deposit"],
}


class AlertBaselineSettings(BaseModel):
    """A baseline rule's parameters (see `strongroom.audit.baseline`; docs/audit.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bucket_seconds: int = Field(60, ge=1, le=86_400, description="Width of a counting bucket.")
    history_buckets: int = Field(60, ge=1, le=10_080, description="Buckets the baseline spans.")
    warmup_buckets: int = Field(10, ge=0, le=10_080, description="Buckets before it may fire.")
    floor: int = Field(100, ge=0, description="Never fire at or below this many per bucket.")
    factor: float = Field(5.0, ge=0, le=1e6, description="Fire above mean x factor (0: off).")
    sigmas: float = Field(4.0, ge=0, le=1e3, description="...and above mean + sigmas x sd.")
    amount_detail: str = Field(
        "count", min_length=1, max_length=64, description="Event detail giving the amount."
    )


class AlertRuleSettings(BaseModel):
    """One alert rule as configured (see `strongroom.audit.alerts.Rule`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64)
    actions: list[str] = Field(min_length=1, max_length=32)
    outcome: Literal["success", "denied", "error"] | None = None
    detail: dict[str, str | int | bool | None] = Field(default_factory=dict)
    threshold: int = Field(1, ge=1, le=1_000_000)
    window_seconds: float = Field(60.0, gt=0, le=86_400)
    severity: Literal["low", "medium", "high", "critical"] = "high"
    summary: str = Field("", max_length=256)
    baseline: AlertBaselineSettings | None = Field(
        None, description="Fire on volume far above the subject's own history instead."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> AlertRuleSettings:
        if self.baseline is not None and self.threshold > 1:
            raise ValueError(f"alert rule {self.name}: baseline and threshold do not combine")
        return self


class ConnectorSettings(BaseModel):
    """One connector of the gateway (see `strongroom.runtime.gateway`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    app: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    template: Literal["bearer", "header", "basic", "postgres"]
    base_url: str = Field("", max_length=2048, description="For the HTTP templates.")
    secret: str = Field(min_length=1, max_length=256, description="sr://secrets/<app>/<name>")
    header: str = Field("X-API-Key", pattern=r"^[A-Za-z0-9-]{1,64}$")
    username: str = Field("", max_length=256, description="For basic auth.")
    allow_writes: bool = Field(False, description="postgres: run statements read-write.")
    max_rows: int = Field(1000, ge=1, le=100_000, description="postgres: rows per answer.")


class TokenRegionSettings(BaseModel):
    """One data-residency region of the tokenization vault."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    database_url: str | None = Field(
        None, description="Where this region's values and keys live; the main database if unset."
    )


ROLES = ("admin", "reviewer", "app-owner", "app-user")
Role = Literal["admin", "reviewer", "app-owner", "app-user"]
_NAME = r"^[a-z0-9][a-z0-9-]{0,31}$"


class OidcProviderSettings(BaseModel):
    """One OpenID provider Strongroom signs users in through (see docs/identity.md).

    The client secret comes from the environment or the TOML file (``client_secret``) or
    from a file (``client_secret_file``), never from the command line.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME)
    issuer: str = Field(min_length=8, max_length=512)
    client_id: str = Field(min_length=1, max_length=256)
    client_secret: SecretStr | None = None
    client_secret_file: Path | None = None
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email"], max_length=32)
    groups_claim: str = Field("groups", min_length=1, max_length=64)
    username_claim: str = Field("email", min_length=1, max_length=64)
    group_roles: dict[str, list[Role]] = Field(default_factory=dict, max_length=1000)
    id_token_algorithms: list[str] = Field(
        default_factory=lambda: ["RS256", "PS256", "ES256", "EdDSA"], min_length=1
    )

    @model_validator(mode="after")
    def _check(self) -> OidcProviderSettings:
        if "openid" not in self.scopes:
            raise ValueError("an OpenID provider's scopes must include openid")
        if (self.client_secret is None) == (self.client_secret_file is None):
            raise ValueError("give exactly one of client_secret and client_secret_file")
        if any(a.upper().startswith("HS") or a.lower() == "none" for a in self.id_token_algorithms):
            raise ValueError("ID tokens must be signed with an asymmetric algorithm")
        parsed = urlsplit(self.issuer)
        if parsed.scheme not in ("https", "http") or not parsed.hostname:
            raise ValueError("issuer must be an https URL")
        if parsed.query or parsed.fragment:
            raise ValueError("issuer may not have a query or fragment")
        return self

    def secret(self) -> str:
        """The client secret, read from its file when configured that way."""
        if self.client_secret is not None:
            return self.client_secret.get_secret_value()
        if self.client_secret_file is None:
            raise ConfigError(f"provider {self.name} has no client secret")
        try:
            return self.client_secret_file.read_text(encoding="utf-8").strip()
        except OSError:
            raise ConfigError(
                f"cannot read the client secret file of provider {self.name}"
            ) from None


class BffAppSettings(BaseModel):
    """A micro app whose front end signs in through Strongroom's backend-for-frontend."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME)
    provider: str = Field(pattern=_NAME)
    scopes: list[str] = Field(default_factory=list, max_length=64)
    token_ttl: int = Field(60, ge=1, le=TOKEN_TTL_HARD_CEILING)


class Settings(BaseSettings):
    """Every tunable of a Strongroom server."""

    model_config = SettingsConfigDict(
        env_prefix="STRONGROOM_", extra="forbid", frozen=True, validate_default=True
    )

    dev: bool = Field(False, description="Dev mode: self-initialising, self-unsealing.")
    data_dir: Path = Field(Path(".strongroom"), description="Where the SQLite file lives.")
    database_url: str | None = Field(None, description="sqlite:///PATH or postgresql://...")
    addr: str = Field(DEFAULT_ADDR, description="host:port to listen on.")
    issuer: str | None = Field(None, description="Token issuer URL; defaults to the URL.")
    token_audience: str = "strongroom"  # noqa: S105 - an audience name
    token_default_ttl: int = Field(300, ge=1, description="Seconds; 5 minutes by default.")
    token_max_ttl: int = Field(300, ge=1, description="Ceiling on any requested TTL.")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest request body.")
    max_batch_items: int = Field(1000, ge=1)
    max_page_size: int = Field(1000, ge=1)
    default_page_size: int = Field(100, ge=1)
    keyring_refresh_seconds: float = Field(
        5.0, gt=0, description="Bounded staleness of another replica's key rotation."
    )
    shutdown_grace_seconds: int = Field(30, ge=0)
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Server processes sharing the listening socket (docs/workers.md); above 1, "
        "a supervisor holds the seal and writes the audit trail for all of them.",
    )
    audit_appender: Literal["process", "thread"] = Field(
        "process",
        description="On SQLite, who writes the batches of audit events: a child process "
        "on a core of its own (process), or the server's writer thread (thread).",
    )
    audit_hmac_subjects: bool = Field(
        True, description="Record token subjects as HMACs (they are often e-mail addresses)."
    )
    alert_rules: list[AlertRuleSettings] | None = Field(
        None, description="Alert rules; the built-in set when unset (see docs/audit.md)."
    )
    alert_webhook_url: str | None = Field(None, description="POST each alert here (JSON).")
    alert_webhook_secret: SecretStr | None = Field(None, description="HMAC key for webhooks.")
    escrow_approvals: int = Field(
        2, ge=1, le=16, description="Approvers a key recovery needs (M), unless set per app."
    )
    escrow_approvals_per_app: dict[str, int] = Field(
        default_factory=dict, description="M for given apps (each 1..16)."
    )
    escrow_algorithms_per_app: dict[str, Literal["x25519", "rsa-oaep-3072"]] = Field(
        default_factory=dict, description="Escrow key algorithm for given apps (else x25519)."
    )
    alert_file: Path | None = Field(None, description="Append each alert to this JSON-lines file.")
    alert_redis_prefix: str = Field(
        "strongroom:alerts",
        pattern=r"^[A-Za-z0-9:_-]{1,64}$",
        description="Key prefix of the alert windows in Redis (shared when redis_url is set).",
    )
    audit_origin: str | None = Field(
        None, description="Log identity in checkpoints; defaults to the issuer's host + /audit."
    )
    checkpoint_every_events: int = Field(1000, ge=1, description="Checkpoint after N events.")
    checkpoint_interval_seconds: float = Field(
        60.0, gt=0, description="...or after this long, if the log grew at all."
    )
    metrics_unauthenticated: bool = Field(
        False, description="Serve /v1/sys/metrics without a token (for Prometheus)."
    )
    secrets_backend: Literal["builtin", "openbao"] = Field(
        "builtin", description="Where secret values live (see docs/secrets.md)."
    )
    secrets_openbao_url: str | None = Field(None, description="OpenBao/Vault address.")
    secrets_openbao_token: SecretStr | None = Field(None, description="OpenBao/Vault token.")
    secrets_openbao_mount: str = Field("secret", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    secret_max_bytes: int = Field(65_536, ge=16, le=1_048_576, description="Largest value.")
    connectors: list[ConnectorSettings] = Field(default_factory=list)
    egress_allowlist: dict[str, list[str]] = Field(
        default_factory=dict, description="App -> exact hosts its connectors may reach."
    )
    egress_allow_private: list[str] = Field(
        default_factory=list, description="CIDRs the gateway may reach though private."
    )
    gateway_timeout_seconds: float = Field(10.0, gt=0, le=300)
    gateway_max_response_bytes: int = Field(1_048_576, ge=1024)
    token_regions: dict[str, TokenRegionSettings] = Field(
        default_factory=lambda: {"default": TokenRegionSettings()},
        description="Tokenization regions by name, each with an optional database URL.",
    )
    token_max_batch: int = Field(10_000, ge=1, le=100_000, description="Values per call.")
    token_detokenize_rate: float = Field(
        1000.0, gt=0, description="Detokenized values per second per caller."
    )
    token_detokenize_burst: int = Field(20_000, ge=1, description="Bucket size, in values.")
    token_rate_limit_store: Literal["memory", "redis"] | None = Field(
        None,
        description="Where detokenize buckets live: memory (per process) or redis (shared by "
        "every replica; fails closed if Redis is down). Unset: redis if redis_url is set.",
    )
    token_rate_limit_prefix: str = Field(
        "strongroom:detokenize:",
        pattern=r"^[A-Za-z0-9:_.-]{1,64}$",
        description="Prefix of the detokenize bucket keys in Redis.",
    )
    token_purge_interval_seconds: float = Field(
        60.0, gt=0, description="How often expired token values are purged."
    )
    # -- OAuth broker: token exchange, revocation, DPoP (docs/tokens.md) --
    oauth_role_scopes: dict[str, list[str]] = Field(
        default_factory=lambda: dict(DEFAULT_ROLE_SCOPES),
        description="Scopes each role may hold; a trailing * matches any suffix.",
    )
    oauth_app_scopes: dict[str, list[str]] = Field(
        default_factory=dict, description="Approved scopes per app (client_id), until governance."
    )
    oauth_default_app_scopes: list[str] = Field(
        default_factory=list, description="Approved scopes of apps not in oauth_app_scopes."
    )
    revocation_refresh_seconds: float = Field(
        2.0, gt=0, le=60, description="Bounded staleness of another replica's revocations."
    )
    dpop_required_scopes: list[str] = Field(
        default_factory=list, description="Scopes (trailing * = prefix) that need DPoP."
    )
    dpop_require_nonce: bool = Field(False, description="Demand a server nonce in DPoP proofs.")
    dpop_proof_max_age_seconds: int = Field(60, ge=5, le=600)
    proof_replay_store: Literal["memory", "database", "redis"] | None = Field(
        None,
        description="Where used DPoP proofs are remembered (database, redis: shared). Unset: "
        "redis if redis_url is set, else database with workers > 1, else memory.",
    )
    redis_url: str | None = Field(None, description="redis://host:port/db for shared state.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    policy_dirs: list[Path] = Field(
        default_factory=list,
        description="Organisation Rego policy directories, on top of the default bundle.",
    )
    policy_timeout_seconds: float = Field(
        10.0, gt=0, le=120, description="Deadline of one policy evaluation (then: deny)."
    )
    policy_memory_bytes: int = Field(
        512 * 1024 * 1024, ge=64 * 1024 * 1024, description="Memory ceiling of the policy worker."
    )
    oidc_providers: list[OidcProviderSettings] = Field(default_factory=list, max_length=32)
    oidc_return_origins: list[str] = Field(
        default_factory=list, description="Origins a sign-in may return to besides our own."
    )
    session_ttl_seconds: int = Field(28_800, ge=60, le=604_800, description="Session lifetime.")
    bff_apps: list[BffAppSettings] = Field(default_factory=list, max_length=1000)
    scim_enabled: bool = Field(False, description="Only SCIM-provisioned users may sign in.")
    scim_group_roles: dict[str, list[Role]] = Field(
        default_factory=dict, description="SCIM group displayName -> Strongroom roles."
    )
    dev_root_token: SecretStr | None = Field(None, description="Dev only: fixed root token.")
    dev_unseal_key_file: Path | None = Field(None, description="Dev only: unseal key path.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _CONFIG_FILE.get("path")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @field_validator("addr", mode="before")
    @classmethod
    def _addr_from_url(cls, value: Any) -> Any:
        # STRONGROOM_ADDR is shared with the CLI, where it is a URL: accept that form too.
        if isinstance(value, str) and "://" in value:
            parsed = urlsplit(value)
            if parsed.hostname is None or parsed.port is None:
                raise ValueError("addr must be host:port or a URL with a port")
            host = f"[{parsed.hostname}]" if ":" in parsed.hostname else parsed.hostname
            return f"{host}:{parsed.port}"
        return value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if not self.dev:
            for name in ("dev_root_token", "dev_unseal_key_file"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} is a dev-mode option and is refused outside dev")
        if self.token_max_ttl > TOKEN_TTL_HARD_CEILING:
            raise ValueError(f"token_max_ttl may not exceed {TOKEN_TTL_HARD_CEILING} seconds")
        if self.token_default_ttl > self.token_max_ttl:
            raise ValueError("token_default_ttl may not exceed token_max_ttl")
        if self.default_page_size > self.max_page_size:
            raise ValueError("default_page_size may not exceed max_page_size")
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together")
        if self.database_url is not None and not self.database_url.startswith(
            ("sqlite://", "postgresql://", "postgresql+psycopg://")
        ):
            raise ValueError("database_url must be a sqlite:// or postgresql:// URL")
        if self.audit_origin is not None and (
            not self.audit_origin or any(c.isspace() or c == "+" for c in self.audit_origin)
        ):
            raise ValueError("audit_origin may not be empty or hold spaces or '+'")
        if self.proof_replay_store == "redis" and not self.redis_url:
            raise ValueError("proof_replay_store redis needs redis_url")
        if self.token_rate_limit_store == "redis" and not self.redis_url:  # noqa: S105
            raise ValueError("token_rate_limit_store redis needs redis_url")
        if self.workers > 1 and self.proof_replay_store == "memory":
            raise ValueError(
                "proof_replay_store memory is per process: with workers > 1 a DPoP proof "
                "replayed to another worker would pass; use database or redis"
            )
        if self.redis_url is not None and not self.redis_url.startswith(("redis://", "rediss://")):
            raise ValueError("redis_url must be a redis:// or rediss:// URL")
        if self.alert_webhook_url is not None:
            if not self.alert_webhook_url.startswith(("https://", "http://")):
                raise ValueError("alert_webhook_url must be an http(s) URL")
            if self.alert_webhook_secret is None:
                raise ValueError("alert_webhook_url needs alert_webhook_secret to sign with")
        if self.secrets_backend == "openbao" and (
            self.secrets_openbao_url is None or self.secrets_openbao_token is None
        ):
            raise ValueError("secrets_backend openbao needs secrets_openbao_url and _token")
        names = [c.name for c in self.connectors]
        if len(names) != len(set(names)):
            raise ValueError("connector names must be unique")
        _check_token_regions(self.token_regions)
        self._check_identity()
        host, port = split_addr(self.addr)
        if not host or not 0 < port < 65536:
            raise ValueError("addr must be host:port")
        return self

    def _check_identity(self) -> None:
        names = [p.name for p in self.oidc_providers]
        if len(set(names)) != len(names):
            raise ValueError("oidc_providers names must be unique")
        for provider in self.oidc_providers:
            # A plain-http issuer lets anyone on the path forge sign-ins: dev mode only.
            if provider.issuer.startswith("http://") and not self.dev:
                raise ValueError(f"provider {provider.name}: an http:// issuer needs dev mode")
        apps = [a.name for a in self.bff_apps]
        if len(set(apps)) != len(apps) or "console" in apps:
            raise ValueError("bff_apps names must be unique and not 'console'")
        for app in self.bff_apps:
            if app.provider not in names:
                raise ValueError(f"bff app {app.name}: unknown provider")
        for origin in self.oidc_return_origins:
            parsed = urlsplit(origin)
            if (
                parsed.scheme not in ("https", "http")
                or not parsed.hostname
                or parsed.path not in ("", "/")
                or parsed.query
                or parsed.fragment
                or parsed.username is not None
                or (parsed.scheme == "http" and not self.dev)
            ):
                raise ValueError("oidc_return_origins entries must be https origins")

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'strongroom.db').as_posix()}"

    @property
    def resolved_proof_replay_store(self) -> Literal["memory", "database", "redis"]:
        """Where used DPoP proofs live: as set, else shared whenever more than one process
        could see a proof (Redis when configured, else the database)."""
        if self.proof_replay_store is not None:
            return self.proof_replay_store
        if self.redis_url:
            return "redis"
        return "database" if self.workers > 1 else "memory"

    @property
    def resolved_token_rate_limit_store(self) -> Literal["memory", "redis"]:
        """Where detokenize buckets live: as set, else Redis whenever redis_url is set."""
        if self.token_rate_limit_store is not None:
            return self.token_rate_limit_store
        return "redis" if self.redis_url else "memory"

    @property
    def url(self) -> str:
        """The URL clients use to reach this server."""
        host, port = split_addr(self.addr)
        scheme = "https" if self.tls_cert_file else "http"
        shown = f"[{host}]" if ":" in host else host
        return f"{scheme}://{shown}:{port}"

    @property
    def resolved_issuer(self) -> str:
        return self.issuer or self.url

    @property
    def resolved_audit_origin(self) -> str:
        """The checkpoint origin (and signing key name): a schema-less URL."""
        if self.audit_origin:
            return self.audit_origin
        return self.resolved_issuer.split("://", 1)[-1].rstrip("/") + "/audit"

    @property
    def resolved_dev_unseal_key_file(self) -> Path:
        return self.dev_unseal_key_file or self.data_dir / "dev-unseal-key"


def _check_token_regions(regions: dict[str, TokenRegionSettings]) -> None:
    if not regions:
        raise ValueError("token_regions needs at least one region")
    for name, region in regions.items():
        if not _REGION_RE.match(name):
            raise ValueError("token region names are 1-16 of a-z, 0-9 and '-', starting a-z")
        url = region.database_url
        if url is not None and not url.startswith(
            ("sqlite://", "postgresql://", "postgresql+psycopg://")
        ):
            raise ValueError("a token region's database_url must be sqlite:// or postgresql://")


_REGION_RE = re.compile(r"^[a-z][a-z0-9-]{0,15}$")

# The TOML path is passed to the source hook this way because pydantic-settings builds the
# sources from the class; it is set and cleared inside load_settings only.
_CONFIG_FILE: dict[str, Path | None] = {"path": None}


def split_addr(addr: str) -> tuple[str, int]:
    """Split ``host:port`` (``[v6]:port`` too); a malformed port gives port 0."""
    host, _, port = addr.rpartition(":")
    host = host.strip("[]")
    try:
        return host, int(port)
    except ValueError:
        return host, 0


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build and validate settings; raise `ConfigError` naming the bad setting.

    ``overrides`` (from CLI flags) win over the environment, which wins over the file.
    """
    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"config file not found: {config_file}")
    _CONFIG_FILE["path"] = config_file
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    except ValueError as exc:  # a TOML syntax error
        raise ConfigError(f"cannot read config file: {type(exc).__name__}") from None
    finally:
        _CONFIG_FILE["path"] = None


def _describe(exc: ValidationError) -> str:
    # Only locations and messages: the input may be a secret and is never echoed.
    parts = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "settings"
        msg = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    return "invalid settings: " + "; ".join(parts)
