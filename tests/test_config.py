"""Settings: environment over TOML over defaults, validated at start, secrets never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from strongroom.config import load_settings
from strongroom.errors import ConfigError


def test_defaults_are_bounded() -> None:
    s = load_settings()
    assert s.addr == "127.0.0.1:8210"
    assert s.token_default_ttl == 300 and s.token_max_ttl == 300
    assert s.max_body_bytes == 1_048_576
    assert s.resolved_database_url.startswith("sqlite:///")
    assert s.resolved_database_url.endswith(".strongroom/strongroom.db")
    assert s.url == "http://127.0.0.1:8210"


def test_environment_over_file_over_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "strongroom.toml"
    cfg.write_text('addr = "127.0.0.1:9000"\ntoken_max_ttl = 600\nlog_level = "warning"\n')
    s = load_settings(cfg)
    assert (s.addr, s.token_max_ttl, s.log_level) == ("127.0.0.1:9000", 600, "warning")
    monkeypatch.setenv("STRONGROOM_TOKEN_MAX_TTL", "900")
    assert load_settings(cfg).token_max_ttl == 900
    assert load_settings(cfg, addr="127.0.0.1:9100").addr == "127.0.0.1:9100"


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"token_max_ttl": 901}, "token_max_ttl"),
        ({"token_default_ttl": 600}, "token_default_ttl"),
        ({"addr": "nowhere"}, "addr"),
        ({"database_url": "mysql://x"}, "database_url"),
        ({"max_body_bytes": 10}, "max_body_bytes"),
        ({"tls_cert_file": "c.pem"}, "tls_"),
        ({"dev_root_token": "CANARY-root"}, "dev_root_token"),
        ({"dev_unseal_key_file": "k"}, "dev_unseal_key_file"),
        ({"log_level": "loud"}, "log_level"),
    ],
)
def test_invalid_settings_are_refused(overrides: dict[str, object], names: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(**overrides)
    assert names in caught.value.detail
    assert "CANARY" not in caught.value.detail


def test_dev_options_allowed_in_dev() -> None:
    s = load_settings(dev=True, dev_root_token="CANARY-root")
    assert s.dev_root_token is not None and s.dev_root_token.get_secret_value() == "CANARY-root"
    assert "CANARY" not in repr(s)


def test_unknown_keys_and_bad_files(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('adr = "127.0.0.1:1"\n')
    with pytest.raises(ConfigError, match="adr"):
        load_settings(cfg)
    cfg.write_text("addr = \n")
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(cfg)
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "missing.toml")


def test_environment_values_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRONGROOM_DEV_ROOT_TOKEN", "CANARY-env")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "dev_root_token" in caught.value.detail and "CANARY" not in caught.value.detail
    assert load_settings(dev=True).dev_root_token is not None


@pytest.mark.parametrize(
    ("given", "addr", "url"),
    [
        ("http://127.0.0.1:8300", "127.0.0.1:8300", "http://127.0.0.1:8300"),
        ("127.0.0.1:8301", "127.0.0.1:8301", "http://127.0.0.1:8301"),
        ("http://[::1]:8302/", "[::1]:8302", "http://[::1]:8302"),
    ],
)
def test_addr_accepts_the_cli_url_form(given: str, addr: str, url: str) -> None:
    s = load_settings(addr=given)
    assert (s.addr, s.url) == (addr, url)


def test_addr_url_needs_a_port() -> None:
    with pytest.raises(ConfigError, match="addr"):
        load_settings(addr="http://127.0.0.1")


def test_workers_get_shared_stores_by_default() -> None:
    assert load_settings().resolved_proof_replay_store == "memory"
    assert load_settings(workers=2).resolved_proof_replay_store == "database"
    assert load_settings(redis_url="redis://127.0.0.1:6379/0").resolved_proof_replay_store == (
        "redis"
    )
    assert load_settings(workers=2, proof_replay_store="redis", redis_url="redis://h:1/0")
    with pytest.raises(ConfigError, match="proof_replay_store memory"):
        load_settings(workers=2, proof_replay_store="memory")
    for bad in (0, 65):
        with pytest.raises(ConfigError, match="workers"):
            load_settings(workers=bad)


def test_workers_split_the_per_process_detokenize_budget() -> None:
    from strongroom.tokenize.ratelimit import RateLimiter, limiter_for

    one = limiter_for(load_settings(token_detokenize_rate=90.0, token_detokenize_burst=300))
    three = limiter_for(
        load_settings(workers=3, token_detokenize_rate=90.0, token_detokenize_burst=300)
    )
    assert isinstance(one, RateLimiter) and isinstance(three, RateLimiter)
    assert (one.rate, one.burst) == (90.0, 300)
    assert (three.rate, three.burst) == (30.0, 100)
