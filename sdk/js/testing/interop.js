// One interop round for the Python tests: open what Python sealed, seal for Python to open,
// open legacy records, and write legacy records with the source document's raw recipe.
// The same function runs under Node (test/interop-cli.js) and inside Chromium.
import { FieldKey, openLegacy, upgradeLegacy } from '../strongroom-fields.js';

function unhex(text) {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function b64(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

async function makeKey(spec) {
  const options = { keyId: spec.keyId, keyVersion: spec.keyVersion ?? 1 };
  if (spec.type === 'passphrase') {
    return FieldKey.fromPassphrase(spec.passphrase, { ...options, iterations: spec.iterations });
  }
  if (spec.type === 'app') return FieldKey.fromAppKey(unhex(spec.keyHex), options);
  return FieldKey.fromRawKey(unhex(spec.keyHex), options);
}

// The source document's Web Crypto flow, verbatim in spirit: PBKDF2-SHA256, AES-256-GCM,
// 16-byte salt, 12-byte IV, no associated data, standard base64.
async function legacyRecord(plaintext, passphrase, iterations) {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const pwKey = await crypto.subtle.importKey('raw', new TextEncoder().encode(passphrase), 'PBKDF2', false, ['deriveKey']);
  const key = await crypto.subtle.deriveKey({ name: 'PBKDF2', salt, iterations, hash: 'SHA-256' }, pwKey, { name: 'AES-GCM', length: 256 }, false, ['encrypt']);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, new TextEncoder().encode(plaintext));
  return { ct: b64(new Uint8Array(ct)), iv: b64(iv), salt: b64(salt) };
}

async function outcome(promise) {
  try {
    return { ok: await promise };
  } catch (e) {
    return { error: e.name, message: e.message };
  }
}

export async function runInterop(request) {
  const keys = {};
  for (const [name, spec] of Object.entries(request.keys ?? {})) keys[name] = await makeKey(spec);
  const opened = [];
  for (const item of request.open ?? []) {
    opened.push(await outcome(keys[item.key].open(item.sealed, item.context)));
  }
  const sealed = [];
  for (const item of request.seal ?? []) {
    const key = keys[item.key];
    sealed.push(
      await outcome(item.form === 'json' ? key.sealJson(item.value, item.context) : key.seal(item.value, item.context)),
    );
  }
  const legacy = [];
  for (const item of request.legacy ?? []) {
    legacy.push(await outcome(openLegacy(item.record, item.passphrase, item.iterations ? { iterations: item.iterations } : {})));
  }
  const upgraded = [];
  for (const item of request.upgrade ?? []) {
    upgraded.push(await outcome(upgradeLegacy(item.record, item.passphrase, { key: keys[item.key], context: item.context })));
  }
  const legacyRecords = [];
  for (const item of request.makeLegacy ?? []) {
    legacyRecords.push(await legacyRecord(item.value, item.passphrase, item.iterations ?? 100000));
  }
  return { opened, sealed, legacy, upgraded, legacyRecords };
}
