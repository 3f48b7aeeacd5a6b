"""The baseline rule: per-subject bucket counts against their exponentially weighted history.

Time comes from the events' timestamps, which the tests choose: no sleeps, no clocks read.
"""

from __future__ import annotations

import json
import math

import pytest
from alert_support import StepClock

from strongroom.audit import alerts
from strongroom.audit.alert_windows import LocalWindows
from strongroom.audit.baseline import Baseline, BaselineCounter, ewma
from strongroom.audit.events import AuditRecord
from strongroom.config import load_settings
from strongroom.errors import ConfigError
from strongroom.node import _alert_engine

MINUTE_US = 60_000_000
T0 = 1_767_225_600_000_000  # a minute boundary
CANARY_TOKEN = "tok_default_CANARYtokenCANARYtokenCANARY12"
RULE = alerts.Rule(
    "detokenize-spike",
    ("tokens.detokenize",),
    "success",
    baseline=Baseline(bucket_seconds=60, history_buckets=10, warmup_buckets=3, floor=20),
    summary="detokenize volume far above the app's baseline",
)


def _detok(minute: int, count: int, resource: str = "tokens/shop/cards") -> AuditRecord:
    detail = {"purpose": "chargeback CANARY-purpose", "count": count, "refs": [CANARY_TOKEN]}
    return AuditRecord(
        T0 + minute * MINUTE_US + 1_000, "req", "analyst", "tokens.detokenize", resource,
        "success", detail,
    )  # fmt: skip


def _engine(*rules: alerts.Rule) -> alerts.AlertEngine:
    return alerts.AlertEngine(rules or (RULE,), alerts.Sinks(), None, StepClock())


def test_ewma_weighs_the_newest_bucket_most() -> None:
    assert ewma([], 10) == (0.0, 0.0)
    assert ewma([7, 7, 7], 10) == (7.0, 0.0)
    # span 3: each older bucket weighs half the next; weights 0.5 and 1.
    mean, deviation = ewma([0, 10], 3)
    assert mean == pytest.approx(10 / 1.5)
    assert deviation == pytest.approx(math.sqrt((0.5 * mean**2 + (10 - mean) ** 2) / 1.5))
    assert ewma([100, 0, 0, 0], 3)[0] < ewma([0, 0, 0, 100], 3)[0]


def test_the_limit_is_the_largest_of_floor_factor_and_sigmas() -> None:
    b = Baseline(floor=50, factor=3.0, sigmas=2.0)
    assert b.limit(0.0, 0.0) == 50
    assert b.limit(40.0, 1.0) == 120
    assert b.limit(40.0, 100.0) == 240
    with pytest.raises(ValueError, match="negative"):
        Baseline(floor=-1)
    with pytest.raises(ValueError, match="positive"):
        Baseline(bucket_seconds=0)


def test_warm_up_then_normal_volume_never_fires() -> None:
    counter = BaselineCounter("r", RULE.baseline or Baseline(), LocalWindows())
    # An empty history: even a large first bucket does not fire during the warm-up.
    assert counter.count("s", T0, 5_000) is None
    for minute in range(1, 3):
        assert counter.count("s", T0 + minute * MINUTE_US, 5_000) is None
    # Steady volume that varies a little stays under max(floor, mean*5, mean+4sd).
    other = BaselineCounter("r", RULE.baseline or Baseline(), LocalWindows())
    for minute in range(40):
        for _ in range(3):
            assert other.count("s", T0 + minute * MINUTE_US, 4 + minute % 3) is None


def test_a_spike_fires_once_per_bucket_and_names_the_baseline() -> None:
    b = Baseline(bucket_seconds=60, history_buckets=10, warmup_buckets=3, floor=20)
    counter = BaselineCounter("r", b, LocalWindows())
    for minute in range(5):
        assert counter.count("s", T0 + minute * MINUTE_US, 10) is None
    now = T0 + 5 * MINUTE_US
    assert counter.count("s", now, 49) is None  # limit: max(20, 10*5, 10+0) = 50
    assert counter.count("s", now + 1, 1) is None  # 50 is not above 50
    spike = counter.count("s", now + 2, 1)
    assert spike is not None
    assert (spike.subject, spike.count, spike.mean, spike.deviation, spike.limit) == (
        "s", 51, 10.0, 0.0, 50.0,
    )  # fmt: skip
    assert spike.bucket_start_us == now
    assert counter.count("s", now + 3, 1_000) is None  # once per bucket
    # Other subjects have their own baseline (and their own warm-up).
    assert counter.count("t", now, 1_000) is None
    # The next bucket starts from a baseline that includes the spike.
    assert counter.count("s", now + MINUTE_US, 60) is None


def test_idle_buckets_count_as_zero_history() -> None:
    b = Baseline(bucket_seconds=60, history_buckets=10, warmup_buckets=3, floor=20)
    counter = BaselineCounter("r", b, LocalWindows())
    for minute in range(5):
        assert counter.count("s", T0 + minute * MINUTE_US, 1_000) is None
    # Long idle: the history is zeros, so anything above the floor fires.
    later = T0 + 100 * MINUTE_US
    spike = counter.count("s", later, 21)
    assert spike is not None and spike.mean == 0.0 and spike.limit == 20.0


def test_the_engine_raises_a_detokenize_alert_without_values_or_tokens() -> None:
    engine = _engine()
    for minute in range(4):
        assert engine.evaluate(_detok(minute, 2)) == []
    assert engine.evaluate(_detok(4, 15)) == []
    [alert] = engine.evaluate(_detok(4, 6))
    assert alert.rule == "detokenize-spike" and alert.action == "tokens.detokenize"
    assert alert.summary == (
        "detokenize volume far above the app's baseline: tokens/shop/cards had 21 in 60 s "
        "(baseline mean 2.0, sd 0.0; limit 20.0)"
    )
    assert alert.detail == {
        "subject": "tokens/shop/cards",
        "count": 21,
        "bucket_start": "2026-01-01T00:04:00.000000Z",
        "bucket_seconds": 60,
        "baseline_mean": 2.0,
        "baseline_deviation": 0.0,
        "limit": 20.0,
    }
    text = json.dumps(alert.as_json())
    assert "CANARY" not in text and "chargeback" not in text
    # Another policy of the same app has its own baseline.
    assert engine.evaluate(_detok(4, 500, "tokens/shop/mail")) == []


def test_odd_amounts_count_as_one() -> None:
    engine = _engine()
    for minute in range(4):
        engine.evaluate(_detok(minute, 0))
    for count in (True, -5, "many"):
        record = _detok(4, 0)
        record.detail["count"] = count
        assert engine.evaluate(record) == []
    fired = [engine.evaluate(_detok(4, 1)) for _ in range(20)]
    assert [len(f) for f in fired].index(1) == 17  # 3 odd ones + 18 = 21 > 20


def test_baseline_rules_come_from_the_alert_rules_setting() -> None:
    configured = load_settings(
        alert_rules=[
            {
                "name": "detok",
                "actions": ["tokens.detokenize"],
                "outcome": "success",
                "baseline": {"bucket_seconds": 30, "floor": 5, "factor": 2, "sigmas": 0},
            }
        ]
    )
    engine = _alert_engine(configured, None, StepClock())  # type: ignore[arg-type]
    [rule] = engine._rules
    assert rule.baseline == Baseline(
        bucket_seconds=30, history_buckets=60, warmup_buckets=10, floor=5, factor=2, sigmas=0
    )
    assert engine.windows_state == "local"
    defaults = _alert_engine(load_settings(), None, StepClock())  # type: ignore[arg-type]
    spike = {r.name: r for r in defaults._rules}["detokenize-spike"]
    assert spike.actions == ("tokens.detokenize",) and spike.baseline == Baseline()


@pytest.mark.parametrize(
    ("baseline", "extra", "message"),
    [
        ({"floor": -1}, {}, "floor"),
        ({"bucket_seconds": 0}, {}, "bucket_seconds"),
        ({"factor": 1, "values": 3}, {}, "values"),
        ({}, {"threshold": 5}, "baseline and threshold"),
    ],
)
def test_bad_baseline_settings_are_refused(
    baseline: dict[str, object], extra: dict[str, object], message: str
) -> None:
    rule = {"name": "d", "actions": ["tokens.detokenize"], "baseline": baseline, **extra}
    with pytest.raises(ConfigError, match=message):
        load_settings(alert_rules=[rule])


def test_observe_remembers_candidate_rules_per_action_but_checks_each_events_detail() -> None:
    # `observe` works out once which rules an (action, outcome) pair can meet; the detail
    # ("sealed": false) still decides per event, and an event no rule meets is dropped.
    engine = alerts.AlertEngine(alerts.DEFAULT_RULES, alerts.Sinks(), None, StepClock())
    delivered: list[alerts.Alert] = []
    engine.delivered = delivered.append

    def unseal(sealed: bool) -> AuditRecord:
        detail = {"sealed": sealed}
        return AuditRecord(T0, "req", "op", "sys.unseal", "sys/unseal", "success", detail)

    read = AuditRecord(T0, "req", "app", "secrets.read", "secrets/a/b", "success", {})
    for record in (unseal(True), read, unseal(False), read, unseal(True), unseal(False)):
        engine.observe(record)
    engine.close()
    assert [a.rule for a in delivered] == ["unsealed", "unsealed"]
