// Runs the shared sealed-field vectors (tests/vectors/fields/vectors.json) against the SDK.
// Used by the Node tests and, through Playwright, inside Chromium: it needs Web Crypto only.
import { DecryptionError, FieldKey, _testing, parse, toCompact, toJson } from '../strongroom-fields.js';

const WEB_CRYPTO_ALGS = new Set(['AES-256-GCM']);
const WEB_CRYPTO_KDFS = new Set(['raw', 'PBKDF2-HMAC-SHA256', 'HKDF-SHA256']);

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function unhex(text) {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function b64url(text) {
  const std = text.replace(/-/g, '+').replace(/_/g, '/');
  return Uint8Array.from(atob(std + '='.repeat((4 - (std.length % 4)) % 4)), (c) => c.charCodeAt(0));
}

/** A handle for a vector built with the vector's own salt, as its author made it. */
export async function keyFor(v) {
  const options = { keyId: v.key_id, keyVersion: v.key_version };
  if (v.kdf.name === 'raw') return FieldKey.fromRawKey(unhex(v.secret.key_hex), options);
  const salt = b64url(v.kdf.salt);
  if (v.kdf.name === 'HKDF-SHA256') {
    return _testing.appKeyWithSalt(unhex(v.secret.key_hex), salt, options);
  }
  return _testing.passphraseWithSalt(v.secret.passphrase, salt, {
    ...options,
    iterations: v.kdf.iterations,
  });
}

/** A handle that can open an invalid vector's source value (same id, version, kind). */
async function openerFor(v) {
  let parsed;
  try {
    parsed = parse(v.sealed);
  } catch {
    return null;
  }
  const h = parsed.header;
  const options = { keyId: h.keyId, keyVersion: h.keyVersion };
  if (v.secret.passphrase !== undefined) {
    return FieldKey.fromPassphrase(v.secret.passphrase, { ...options, iterations: 100000 });
  }
  const key = unhex(v.secret.key_hex);
  return h.kdf.code === 3 ? FieldKey.fromAppKey(key, options) : FieldKey.fromRawKey(key, options);
}

/**
 * Check every vector; returns {passed, skipped, failures} (names, and messages for failures).
 * A valid vector must open in all three forms and re-seal byte for byte with its nonce; an
 * invalid one must fail with DecryptionError.
 */
export async function runVectors(vectors) {
  const passed = [];
  const skipped = [];
  const failures = [];
  for (const v of vectors.valid) {
    if (!WEB_CRYPTO_ALGS.has(v.alg) || !WEB_CRYPTO_KDFS.has(v.kdf.name)) {
      skipped.push(v.name);
      // Web Crypto lacks the primitive: opening must still fail cleanly, never crash.
      try {
        const key = await FieldKey.fromRawKey(new Uint8Array(32), { keyId: v.key_id, keyVersion: v.key_version });
        await key.open(v.compact, v.context);
        failures.push(`${v.name}: opened without the primitive`);
      } catch (e) {
        if (!(e instanceof DecryptionError)) failures.push(`${v.name}: ${e}`);
      }
      continue;
    }
    try {
      const key = await keyFor(v);
      const sealed = await _testing.sealWithNonce(
        key,
        new TextEncoder().encode(v.plaintext),
        v.context,
        unhex(v.nonce_hex),
      );
      if (hex(sealed) !== v.sealed_hex) throw new Error('sealed bytes differ');
      if (hex(_testing.contextBytes(v.context)) !== v.context_hex) throw new Error('context differs');
      for (const form of [v.compact, v.json, unhex(v.sealed_hex)]) {
        const p = parse(form);
        if (toCompact(p) !== v.compact) throw new Error('compact form differs');
        if (JSON.stringify(toJson(p)) !== JSON.stringify(v.json)) throw new Error('JSON form differs');
        if ((await key.open(form, v.context)) !== v.plaintext) throw new Error('plaintext differs');
      }
      passed.push(v.name);
    } catch (e) {
      failures.push(`${v.name}: ${e}`);
    }
  }
  for (const v of vectors.invalid) {
    try {
      const key = await openerFor(v);
      if (key !== null) await key.open(v.sealed, v.context);
      else parse(v.sealed);
      failures.push(`${v.name}: opened`);
    } catch (e) {
      if (e instanceof DecryptionError && e.message === 'Decryption failed.') passed.push(v.name);
      else failures.push(`${v.name}: ${e}`);
    }
  }
  return { passed, skipped, failures };
}
