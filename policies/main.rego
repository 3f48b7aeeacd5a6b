# The default Strongroom governance policy (Conftest convention: deny and warn sets).
#
# Input: {"manifest": <strongroom.yaml as JSON>, "findings": [<scan finding>], "context": {...}}.
# Configuration comes from data.strongroom.config (policies/data.json; organisations
# override it with a data.json of their own). A message is an object
# {"msg": text, "path": [field path in the manifest]} so the caller can point at a line.
package strongroom.main

import rego.v1

config := data.strongroom.config

manifest := object.get(input, "manifest", null)

# -- the input itself --------------------------------------------------------------------

deny contains {"msg": "the policy input has no manifest", "path": []} if {
	not is_object(manifest)
}

deny contains {"msg": "the policy input has no findings list", "path": []} if {
	not is_array(object.get(input, "findings", null))
}

# -- data classes ------------------------------------------------------------------------

family(class) := split(class, ".")[0]

# The most specific entry of a table keyed by data class: exact, then family, then default.
lookup(table, class) := table[class]

lookup(table, class) := table[family(class)] if {
	not table[class]
}

lookup(table, class) := table["default"] if {
	not table[class]
	not table[family(class)]
}

sensitive(class) if family(class) in config.sensitive_families

# -- protection of sensitive fields ------------------------------------------------------

deny contains {
	# concat, not sprintf("%s", [concat(...)]): rego-cpp quotes a concat result there.
	"msg": concat("", [
		"field ", f.name, " holds ", f.data_class, " but is stored with protection ",
		f.protection, "; use one of: ", concat(", ", allowed),
	]),
	"path": ["fields", i, "protection"],
} if {
	some i, f in object.get(manifest, "fields", [])
	allowed := lookup(config.required_protection, f.data_class)
	not f.protection in allowed
}

# -- retention ---------------------------------------------------------------------------

deny contains {
	"msg": sprintf("retention of %s is %d days; at most %d allowed", [class, days, limit]),
	"path": ["retention", class],
} if {
	some class, days in object.get(manifest, "retention", {})
	limit := lookup(config.max_retention_days, class)
	days > limit
}

deny contains {
	"msg": sprintf("field %s holds %s but no retention is declared for it", [f.name, f.data_class]),
	"path": ["fields", i, "data_class"],
} if {
	some i, f in object.get(manifest, "fields", [])
	sensitive(f.data_class)
	retention := object.get(manifest, "retention", {})
	not retention[f.data_class]
	not retention[family(f.data_class)]
}

# -- scopes ------------------------------------------------------------------------------

broad(scope) if contains(scope, "*")

broad(scope) if endswith(scope, ":all")

broad(scope) if scope in config.broad_scopes

deny contains {"msg": sprintf("scope %s is too broad; ask for named resources", [s]), "path": ["scopes", i]} if {
	some i, s in object.get(manifest, "scopes", [])
	broad(s)
}

real_data(scope) if {
	some prefix in config.real_data_scope_prefixes
	startswith(scope, prefix)
}

deny contains {
	"msg": sprintf("a preview app works on mock data and may not ask for %s", [s]),
	"path": ["scopes", i],
} if {
	manifest.environment == "preview"
	some i, s in object.get(manifest, "scopes", [])
	real_data(s)
}

# -- sign-in -----------------------------------------------------------------------------

sso_path := ["sso", "enabled"] if is_object(object.get(manifest, "sso", null))

else := ["environment"]

deny contains {"msg": "a production app must sign users in with SSO (sso.enabled: true)", "path": sso_path} if {
	manifest.environment == "production"
	not object.get(manifest, "sso", {"enabled": false}).enabled == true
}

# -- egress and connectors ---------------------------------------------------------------

domain_allowed(domain) if domain in config.allowed_egress_domains

domain_allowed(domain) if {
	some entry in config.allowed_egress_domains
	startswith(entry, "*.")
	not startswith(domain, "*.")
	endswith(domain, substring(entry, 1, -1))
}

deny contains {"msg": sprintf("egress to %s is not on the allowlist", [d]), "path": ["egress", i]} if {
	some i, d in object.get(manifest, "egress", [])
	not domain_allowed(d)
}

deny contains {
	"msg": sprintf("connector %s reaches %s, which is not on the allowlist", [c.name, c.domain]),
	"path": ["connectors", i, "domain"],
} if {
	some i, c in object.get(manifest, "connectors", [])
	not domain_allowed(c.domain)
}

deny contains {
	"msg": sprintf("connector %s uses a secret of another app; use sr://secrets/%s/...", [c.name, manifest.name]),
	"path": ["connectors", i, "secret"],
} if {
	some i, c in object.get(manifest, "connectors", [])
	not startswith(c.secret, sprintf("sr://secrets/%s/", [manifest.name]))
}

# -- scan findings -----------------------------------------------------------------------

deny contains {
	"msg": sprintf("%s finding %s at %s:%d: %s", [f.scanner, f.rule_id, f.file, f.line, f.message]),
	"path": [],
} if {
	some f in object.get(input, "findings", [])
	f.blocking == true
}

warn contains {
	"msg": sprintf("%s finding %s at %s:%d: %s", [f.scanner, f.rule_id, f.file, f.line, f.message]),
	"path": [],
} if {
	some f in object.get(input, "findings", [])
	f.blocking != true
}

# -- what needs a reviewer ---------------------------------------------------------------

review contains sprintf("scope %s touches sensitive data", [s]) if {
	some s in object.get(manifest, "scopes", [])
	some part in split(s, ":")
	sensitive(part)
}

review contains sprintf("scope %s reaches secrets or real values", [s]) if {
	some s in object.get(manifest, "scopes", [])
	some prefix in config.sensitive_scope_prefixes
	startswith(s, prefix)
}

review contains sprintf("field %s holds %s", [f.name, f.data_class]) if {
	some f in object.get(manifest, "fields", [])
	sensitive(f.data_class)
}
