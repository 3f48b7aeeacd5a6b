# Unit tests of the default policy, run by `make test` (tests/governance/test_rego_units.py)
# through regopy. regopy 1.5 cannot replace the whole input (`with input as {...}`), so
# each test replaces its parts: `with input.manifest as ... with input.findings as ...`,
# and the replacement must be a local variable or a literal, not a rule reference.
package strongroom.main_test

import rego.v1

import data.strongroom.main

good := {
	"apiVersion": "strongroom/v1",
	"name": "crm-helper",
	"owner": "alice@example.com",
	"environment": "production",
	"region": "eu",
	"sso": {"enabled": true},
	"scopes": ["data:read:pii.email", "secrets:read:crm-helper/hubspot"],
	"fields": [{"name": "email", "data_class": "pii.email", "protection": "encrypt-client"}],
	"connectors": [{"name": "hubspot", "secret": "sr://secrets/crm-helper/hubspot", "domain": "api.hubspot.com"}],
	"egress": ["api.hubspot.com", "eu1.salesforce.com"],
	"retention": {"pii.email": 365},
}

with_field(protection, class) := object.union(good, {"fields": [{"name": "f", "data_class": class, "protection": protection}], "retention": {class: 10}})

msgs(set) := {m.msg | some m in set}

finding(blocking) := {
	"scanner": "secrets", "rule_id": "aws-access-key", "file": "app.py", "line": 3, "column": 9,
	"severity": "high", "confidence": "high", "fingerprint": "f1", "message": "AWS key", "blocking": blocking,
}

test_good_manifest_passes if {
	m := good
	d := main.deny with input.manifest as m with input.findings as [] with input.context as {}
	count(d) == 0
}

test_good_manifest_needs_review if {
	m := good
	r := main.review with input.manifest as m with input.findings as [] with input.context as {}
	"field email holds pii.email" in r
	"scope data:read:pii.email touches sensitive data" in r
}

test_public_app_needs_no_review if {
	m := object.union(good, {"scopes": ["data:read:public.menu"], "fields": [], "connectors": [], "retention": {}})
	r := main.review with input.manifest as m with input.findings as [] with input.context as {}
	count(r) == 0
}

test_plain_pii_is_denied_at_its_field if {
	m := with_field("none", "pii.email")
	d := main.deny with input.manifest as m with input.findings as [] with input.context as {}
	some x in d
	x.path == ["fields", 0, "protection"]
	startswith(x.msg, "field f holds pii.email but is stored with protection none")
}

test_pan_must_be_tokenized if {
	m := with_field("encrypt-client", "pci.pan")
	d := main.deny with input.manifest as m with input.findings as [] with input.context as {}
	count(d) == 1
	m2 := with_field("tokenize", "pci.pan")
	d2 := main.deny with input.manifest as m2 with input.findings as [] with input.context as {}
	count(d2) == 0
}

test_phi_family_rule_applies_to_any_phi_class if {
	m := with_field("tokenize", "phi.diagnosis")
	d := main.deny with input.manifest as m with input.findings as [] with input.context as {}
	some x in d
	x.path == ["fields", 0, "protection"]
}

test_public_data_needs_no_protection if {
	m := with_field("none", "public.menu")
	d := main.deny with input.manifest as m with input.findings as [] with input.context as {}
	count(d) == 0
}

test_retention_over_the_limit_is_denied if {
	m := object.union(good, {"retention": {"pii.email": 366}})
	d := main.deny with input.manifest as m with input.findings as [] with input.context as {}
	msgs(d) == {"retention of pii.email is 366 days; at most 365 allowed"}
}

test_exact_class_limit_beats_family_limit if {
	m := object.union(good, {"retention": {"pii.email": 30, "pii.ssn": 181}})
	d := main.deny with input.manifest as m with input.findings as [] with input.context as {}
	msgs(d) == {"retention of pii.ssn is 181 days; at most 180 allowed"}
}

test_missing_retention_for_sensitive_field_is_denied if {
	m := object.union(good, {"retention": {}})
	d := main.deny with input.manifest as m with input.findings as [] with input.context as {}
	msgs(d) == {"field email holds pii.email but no retention is declared for it"}
}

test_wildcard_and_all_scopes_are_denied if {
	m := object.union(good, {"scopes": ["*:read:all", "data:read:*", "records:read:all", "admin"]})
	d := main.deny with input.manifest as m with input.findings as [] with input.context as {}
	count(d) == 4
	every x in d {
		endswith(x.msg, "is too broad; ask for named resources")
	}
}

test_production_needs_sso if {
	m := object.union(good, {"sso": {"enabled": false}})
	d := main.deny with input.manifest as m with input.findings as [] with input.context as {}
	some x in d
	x.path == ["sso", "enabled"]
	m2 := object.remove(good, ["sso"])
	d2 := main.deny with input.manifest as m2 with input.findings as [] with input.context as {}
	some y in d2
	y.path == ["environment"]
}

test_preview_may_not_touch_real_data if {
	m := object.union(good, {"environment": "preview", "scopes": ["data:read:pii.email", "mock:read:customers"]})
	d := main.deny with input.manifest as m with input.findings as [] with input.context as {}
	msgs(d) == {"a preview app works on mock data and may not ask for data:read:pii.email"}
}

test_preview_without_sso_is_fine if {
	m := object.union(object.remove(good, ["sso", "connectors"]), {"environment": "preview", "scopes": ["mock:read:customers"]})
	d := main.deny with input.manifest as m with input.findings as [] with input.context as {}
	count(d) == 0
}

test_egress_off_the_allowlist_is_denied if {
	m := object.union(good, {"egress": ["api.hubspot.com", "pastebin.com", "*.salesforce.com", "*.hubspot.com"]})
	d := main.deny with input.manifest as m with input.findings as [] with input.context as {}
	msgs(d) == {"egress to pastebin.com is not on the allowlist", "egress to *.hubspot.com is not on the allowlist"}
}

test_allowlist_comes_from_data if {
	m := object.union(good, {"egress": ["pastebin.com"]})
	d := main.deny with input.manifest as m with input.findings as [] with input.context as {}
		with data.strongroom.config.allowed_egress_domains as ["pastebin.com", "api.hubspot.com"]
	count(d) == 0
}

test_connector_secret_of_another_app_is_denied if {
	m := object.union(good, {"connectors": [{"name": "x", "secret": "sr://secrets/other-app/key", "domain": "api.hubspot.com"}]})
	d := main.deny with input.manifest as m with input.findings as [] with input.context as {}
	some x in d
	x.path == ["connectors", 0, "secret"]
}

test_blocking_finding_denies if {
	m := good
	f := [finding(true)]
	d := main.deny with input.manifest as m with input.findings as f with input.context as {}
	msgs(d) == {"secrets finding aws-access-key at app.py:3: AWS key"}
}

test_advisory_finding_warns if {
	m := good
	f := [finding(false)]
	d := main.deny with input.manifest as m with input.findings as f with input.context as {}
	w := main.warn with input.manifest as m with input.findings as f with input.context as {}
	count(d) == 0
	msgs(w) == {"secrets finding aws-access-key at app.py:3: AWS key"}
}

test_missing_manifest_denies if {
	d := main.deny with input.manifest as null with input.findings as [] with input.context as {}
	msgs(d) == {"the policy input has no manifest"}
}

test_missing_findings_denies if {
	m := good
	d := main.deny with input.manifest as m with input.findings as null with input.context as {}
	msgs(d) == {"the policy input has no findings list"}
}
