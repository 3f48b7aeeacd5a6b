"""Input and output models of the API. Inputs refuse unknown fields and loose types."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class InitIn(Input):
    shares: int = Field(ge=1, le=32, description="How many key shares to make.")
    threshold: int = Field(ge=1, le=32, description="How many shares unseal.")


class InitOut(BaseModel):
    shares: list[str]
    threshold: int
    root_token: str


class UnsealIn(Input):
    share: str | None = Field(None, max_length=256)
    reset: bool = False


class SealStatusOut(BaseModel):
    initialized: bool
    sealed: bool
    threshold: int
    shares: int
    progress: int
    version: str


class HealthOut(BaseModel):
    initialized: bool
    sealed: bool
    version: str
    audit: str = Field("ok", description="'degraded' while audit writes fail.")
    alerts: str | None = Field(
        None,
        description="With redis_url: 'shared' alert windows, or 'fallback' (Redis unreachable:"
        " each replica counts alone).",
    )


class KeyOut(BaseModel):
    purpose: str
    version: int
    algorithm: str
    created: str
    current: bool


class KeysOut(BaseModel):
    keys: list[KeyOut]


class TokenIn(Input):
    subject: str = Field(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f\x7f]+$")
    scopes: list[str] = Field(default_factory=list, max_length=64)
    ttl: int | None = Field(None, ge=1, description="Seconds; at most the configured ceiling.")


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type name
    expires_in: int
    scope: str
    jti: str


class EventOut(BaseModel):
    index: int
    time: str
    request_id: str
    actor: str
    action: str
    resource: str
    outcome: str
    detail: dict[str, object]


class EventsOut(BaseModel):
    events: list[EventOut]
    next: int | None = Field(description="Pass as `after` for the next page; null at the end.")
