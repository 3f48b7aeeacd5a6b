"""Token settings: regions are checked at start, and never echo a database URL."""

from __future__ import annotations

import pytest

from strongroom.config import load_settings
from strongroom.errors import ConfigError


def test_default_region_and_json_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert set(load_settings().token_regions) == {"default"}
    monkeypatch.setenv(
        "STRONGROOM_TOKEN_REGIONS", '{"eu": {"database_url": "sqlite:///eu.db"}, "us": {}}'
    )
    regions = load_settings().token_regions
    assert regions["eu"].database_url == "sqlite:///eu.db" and regions["us"].database_url is None


@pytest.mark.parametrize(
    ("regions", "match"),
    [
        ({}, "at least one region"),
        ({"EU": {}}, "names are 1-16"),
        ({"a" * 17: {}}, "names are 1-16"),
        ({"eu": {"database_url": "mysql://secret-pass@db/x"}}, "sqlite:// or postgresql://"),
        ({"eu": {"url": "sqlite:///x"}}, "token_regions"),
    ],
)
def test_bad_regions_are_refused(regions: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        load_settings(token_regions=regions)
    assert "secret-pass" not in str(info.value)


def test_rate_and_batch_bounds() -> None:
    for bad in ({"token_max_batch": 0}, {"token_detokenize_rate": 0}, {"token_max_batch": 10**6}):
        with pytest.raises(ConfigError):
            load_settings(**bad)
