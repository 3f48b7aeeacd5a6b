"""Typed settings: environment (``STRONGROOM_*``) over an optional TOML file over defaults.

Settings are validated once, at start; an invalid value is refused with a `ConfigError`
that names the setting but never echoes its value (a value may be a secret). Dev-only
options are refused outside dev mode. Several defaults double as denial-of-service bounds.
"""

from __future__ import annotations

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

from strongroom.errors import ConfigError

#: The longest an access token may ever live, whatever the configuration says (15 min).
TOKEN_TTL_HARD_CEILING = 900
DEFAULT_ADDR = "127.0.0.1:8210"


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
    alert_file: Path | None = Field(None, description="Append each alert to this JSON-lines file.")
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
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
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
        if self.alert_webhook_url is not None:
            if not self.alert_webhook_url.startswith(("https://", "http://")):
                raise ValueError("alert_webhook_url must be an http(s) URL")
            if self.alert_webhook_secret is None:
                raise ValueError("alert_webhook_url needs alert_webhook_secret to sign with")
        host, port = split_addr(self.addr)
        if not host or not 0 < port < 65536:
            raise ValueError("addr must be host:port")
        return self

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'strongroom.db').as_posix()}"

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
