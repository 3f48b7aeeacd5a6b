"""Manifest parsing: valid input, located errors, and the YAML hazards refused."""

from __future__ import annotations

import json

import pytest
from manifests import GOOD, PLAIN_EMAIL

from strongroom.governance import manifest
from strongroom.governance.manifest import ManifestError

CANARY = "sk_live_CANARY0123456789abcdef"


def _errors(text: str | bytes) -> list[dict[str, object]]:
    with pytest.raises(ManifestError) as caught:
        manifest.parse(text)
    errors = caught.value.extra["errors"]
    assert errors, "a ManifestError always lists its problems"
    return list(errors)


def test_good_manifest_parses_with_locations() -> None:
    parsed = manifest.parse(GOOD)
    assert parsed.name == "crm-helper"
    assert parsed.owner == "alice@example.com"
    assert parsed.scopes == ["data:read:pii.email", "secrets:read:crm-helper/hubspot"]
    assert parsed.data["retention"] == {"pii.email": 365}
    assert parsed.locate(("fields", 0, "protection")) == (16, 5)
    assert parsed.locate(("scopes", 1)) == (11, 5)
    assert parsed.locate(("fields", 9, "name")) == (12, 1)  # the deepest part that exists
    assert parsed.digest().startswith("sha256:")
    assert json.loads(parsed.canonical()) == parsed.data
    assert manifest.parse(PLAIN_EMAIL).digest() != parsed.digest()


def test_schema_is_draft_2020_12_and_closed() -> None:
    schema = manifest.schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False


def test_unknown_field_is_located() -> None:
    text = GOOD.replace(
        "    protection: encrypt-client\n", "    protection: encrypt-client\n    colour: red\n"
    )
    [error] = _errors(text)
    assert error == {
        "line": 17,
        "column": 5,
        "field": "fields[0].colour",
        "message": "unknown field",
    }


def test_unknown_top_level_field_and_wrong_type_both_reported() -> None:
    text = GOOD.replace("region: eu\n", "region: 7\nregoin: eu\n")
    errors = _errors(text)
    assert {(e["line"], e["field"]) for e in errors} == {(6, "region"), (7, "regoin")}
    assert any(e["message"] == "must be of type string" for e in errors)


def test_bad_enum_names_the_choices_not_the_value() -> None:
    [error] = _errors(GOOD.replace("protection: encrypt-client", f"protection: {CANARY}"))
    assert error["field"] == "fields[0].protection" and error["line"] == 16
    assert "encrypt-client, tokenize, none" in str(error["message"])
    with pytest.raises(ManifestError) as caught:
        manifest.parse(GOOD.replace("protection: encrypt-client", f"protection: {CANARY}"))
    assert CANARY not in str(caught.value) and CANARY not in json.dumps(caught.value.extra)


def test_secret_value_in_place_of_an_id_is_refused_without_echo() -> None:
    text = GOOD.replace("secret: sr://secrets/crm-helper/hubspot", f"secret: {CANARY}")
    with pytest.raises(ManifestError) as caught:
        manifest.parse(text)
    assert caught.value.extra["errors"][0]["field"] == "connectors[0].secret"
    assert CANARY not in str(caught.value) + json.dumps(caught.value.extra)


def test_missing_required_fields() -> None:
    errors = _errors("apiVersion: strongroom/v1\nname: x1\n")
    assert errors[0]["line"] == 1
    assert "missing required field" in str(errors[0]["message"])
    assert "'owner'" in str(errors[0]["message"])


def test_retention_keys_must_be_data_classes_and_whole_days() -> None:
    errors = _errors(GOOD.replace("pii.email: 365", "pii.email: 36.5"))
    assert errors[0]["field"] == 'retention["pii.email"]'
    assert errors[0]["message"] == "must be a whole number"
    errors = _errors(GOOD.replace("pii.email: 365", "Email: 365"))
    assert errors[0]["field"] == "retention"


def test_duplicate_key_is_refused_without_its_value() -> None:
    text = GOOD.replace("region: eu\n", f"region: eu\nregion: {CANARY}\n")
    with pytest.raises(ManifestError) as caught:
        manifest.parse(text)
    [error] = caught.value.extra["errors"]
    assert error["message"] == "duplicate key" and error["line"] == 7
    assert CANARY not in str(caught.value) + json.dumps(caught.value.extra)


@pytest.mark.parametrize(
    "text",
    [
        "a: &x [1, 2]\nb: *x\n",
        'a: &a ["lol","lol"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n'
        "c: [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n",
        "name: !!python/object:os.system echo\n",
        "name: !custom x\n",
    ],
    ids=["alias", "billion-laughs", "python-tag", "custom-tag"],
)
def test_anchors_aliases_and_tags_are_refused(text: str) -> None:
    errors = _errors(text)
    assert errors[0]["message"] in (
        "anchors and aliases are not allowed",
        "explicit YAML tags are not allowed",
    )


def test_bounds() -> None:
    errors = _errors(b"a: " + b"x" * manifest.MAX_MANIFEST_BYTES)
    assert "exceeds" in str(errors[0]["message"])
    deep = "a:\n" + "".join("  " * i + "- \n" for i in range(1, 20))
    assert "nesting deeper" in str(_errors("x: " + "[" * 20 + "]" * 20)[0]["message"])
    assert _errors(deep)
    many = "a: [" + ",".join("1" for _ in range(manifest.MAX_NODES + 1)) + "]\n"
    assert "more than" in str(_errors(many)[0]["message"])


@pytest.mark.parametrize(
    "text",
    [
        b"\xff\xfe not utf-8",
        "a: [1, 2\n",
        "a: 1\n---\nb: 2\n",
        "- just\n- a list\n",
        "",
        "when: 2024-01-01\n",
        "? [a, b]\n: c\n",
    ],
    ids=["utf8", "syntax", "two-docs", "list", "empty", "date", "complex-key"],
)
def test_bad_yaml_is_a_located_error(text: str | bytes) -> None:
    errors = _errors(text)
    assert isinstance(errors[0]["line"], int) and errors[0]["line"] >= 1
