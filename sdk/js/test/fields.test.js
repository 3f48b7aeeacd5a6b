import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { test } from 'node:test';
import {
  DecryptionError,
  FieldError,
  FieldKey,
  KeySet,
  isLegacy,
  openLegacy,
  parse,
  rewrap,
  toJson,
  upgradeLegacy,
  _testing,
} from '../strongroom-fields.js';

const CTX = { app: 'crm', record: '42', field: 'email' };
const CANARY = 'canary-5d1e@example.com';
const PASSPHRASE = 'canary-passphrase-0b7a';
const rawKey = () => crypto.getRandomValues(new Uint8Array(32));

async function allKeys() {
  const raw = rawKey();
  return [
    await FieldKey.fromPassphrase(PASSPHRASE, { keyId: 'user:1', iterations: 100000 }),
    await FieldKey.fromRawKey(raw, { keyId: 'ks:1' }),
    await FieldKey.fromAppKey(raw, { keyId: 'app:crm', keyVersion: 3 }),
  ];
}

test('every handle round-trips text, empty and non-ASCII, in both forms', async () => {
  for (const key of await allKeys()) {
    for (const value of ['', 'alice@example.com', 'Zoë 東京 🗝️', 'x'.repeat(70000)]) {
      assert.equal(await key.open(await key.seal(value, CTX), CTX), value);
      assert.equal(await key.open(await key.sealJson(value, CTX), CTX), value);
    }
  }
});

test('bytes round-trip; non-UTF-8 bytes do not open as text', async () => {
  const [key] = await allKeys();
  const data = new Uint8Array([0, 255, 254]);
  assert.deepEqual(await key.openBytes(await key.sealBytes(data, CTX), CTX), data);
  await assert.rejects(key.open(await key.sealBytes(new Uint8Array([0xff]), CTX), CTX), DecryptionError);
});

test('derived keys are non-extractable CryptoKeys, derived once', async () => {
  const key = await FieldKey.fromPassphrase(PASSPHRASE, { keyId: 'u', iterations: 100000 });
  const other = await FieldKey.fromPassphrase(PASSPHRASE, { keyId: 'u', iterations: 100000 });
  const sealed = await other.seal(CANARY, CTX);
  const start = performance.now();
  await key.open(sealed, CTX);
  const first = performance.now() - start;
  const again = performance.now();
  for (let i = 0; i < 20; i++) await key.open(sealed, CTX);
  assert.ok((performance.now() - again) / 20 < first, 'cached opens should skip PBKDF2');
  for (const k of [...(await allKeys()), key]) {
    for (const cryptoKey of _testing.cryptoKeys(k)) {
      assert.ok(cryptoKey instanceof CryptoKey);
      assert.equal(cryptoKey.extractable, false);
    }
  }
  assert.equal(_testing.cryptoKeys(key).length, 4); // base, own key (twice), the other salt's
  // Nothing on the handle exposes a key; private fields are not reachable.
  assert.deepEqual(Object.keys(key), []);
});

test('a value moved to another context, key, id or version does not open', async () => {
  const raw = rawKey();
  const key = await FieldKey.fromRawKey(raw, { keyId: 'k' });
  const sealed = await key.seal(CANARY, CTX);
  for (const ctx of [
    { ...CTX, record: '43' },
    { ...CTX, field: 'phone' },
    { ...CTX, app: 'hr' },
    { app: 'crm4', record: '2', field: 'email' },
  ]) {
    await assert.rejects(key.open(sealed, ctx), DecryptionError);
  }
  for (const other of [
    await FieldKey.fromRawKey(rawKey(), { keyId: 'k' }),
    await FieldKey.fromRawKey(raw, { keyId: 'k', keyVersion: 2 }),
    await FieldKey.fromRawKey(raw, { keyId: 'j' }),
    await FieldKey.fromAppKey(raw, { keyId: 'k' }),
  ]) {
    await assert.rejects(other.open(sealed, CTX), DecryptionError);
  }
});

test('every bit flip and truncation fails with the one opaque error', async () => {
  const key = await FieldKey.fromAppKey(rawKey(), { keyId: 'k' });
  const data = new Uint8Array(await key.sealBytes(new TextEncoder().encode('secret'), CTX).then((s) => {
    const p = parse(s);
    const out = new Uint8Array(p.headerBytes.length + 12 + p.ciphertext.length);
    out.set(p.headerBytes, 0);
    out.set(p.nonce, p.headerBytes.length);
    out.set(p.ciphertext, p.headerBytes.length + 12);
    return out;
  }));
  for (let i = 0; i < data.length; i++) {
    const changed = data.slice();
    changed[i] ^= 1;
    await assert.rejects(key.open(changed, CTX), (e) => e instanceof DecryptionError && e.message === 'Decryption failed.');
  }
  for (let n = 0; n < data.length; n++) {
    await assert.rejects(key.open(data.slice(0, n), CTX), DecryptionError);
  }
});

test('garbage, absurd parameters and wrong types are one opaque error', async () => {
  const key = await FieldKey.fromPassphrase(PASSPHRASE, { keyId: 'k', iterations: 100000 });
  const json = await key.sealJson(CANARY, CTX);
  const bad = [
    '', 'srf1.', 'srf1.AAAA', null, 12, {}, [], 'srf1.' + 'A'.repeat(2_000_000),
    { ...json, kdf: { ...json.kdf, iterations: 0 } },
    { ...json, kdf: { ...json.kdf, iterations: 1e12 } },
    { ...json, kdf: { ...json.kdf, salt: 'A'.repeat(100000) } },
    { ...json, v: true },
    { ...json, extra: 1 },
    { ct: 'x', iv: 'y', salt: 'z' },
  ];
  const start = performance.now();
  for (const value of bad) {
    await assert.rejects(key.open(value, CTX), (e) => e instanceof DecryptionError && !String(e).includes(CANARY));
  }
  assert.ok(performance.now() - start < 2000);
  await assert.rejects(key.open(json, { app: 'crm' }), DecryptionError);
});

test('bad input to seal and to key constructors is a clear FieldError', async () => {
  const key = await FieldKey.fromRawKey(rawKey(), { keyId: 'k' });
  const cases = [
    () => key.seal(new Uint8Array(1), CTX),
    () => key.seal('x', { app: 'crm' }),
    () => key.seal('x', { ...CTX, record: '' }),
    () => key.seal('x', { ...CTX, field: 'f'.repeat(256) }),
    () => key.seal('\ud800', CTX),
    () => key.sealBytes(new Uint8Array((1 << 20) + 1), CTX),
    () => FieldKey.fromPassphrase('', { keyId: 'k' }),
    () => FieldKey.fromPassphrase('p', { keyId: 'k', iterations: 99999 }),
    () => FieldKey.fromPassphrase('p', { keyId: 'k', iterations: 1e12 }),
    () => FieldKey.fromPassphrase('p', { keyId: 'k', kdf: 'Argon2id' }),
    () => FieldKey.fromRawKey(new Uint8Array(16), { keyId: 'k' }),
    () => FieldKey.fromRawKey(rawKey(), { keyId: 'bad id' }),
    () => FieldKey.fromRawKey(rawKey(), { keyId: 'k', algorithm: 'ChaCha20-Poly1305' }),
    () => FieldKey.fromAppKey(new Uint8Array(33), { keyId: 'k' }),
  ];
  for (const make of cases) await assert.rejects(make(), FieldError);
  assert.throws(() => new FieldKey(Symbol('x')), TypeError);
});

test('handles never print or serialise key material', async () => {
  for (const key of await allKeys()) {
    const text = String(key) + inspect(key, { showHidden: true, depth: 5 });
    assert.ok(text.includes('redacted') && !text.includes(PASSPHRASE));
    assert.throws(() => JSON.stringify(key), TypeError);
    // A structured clone (postMessage, IndexedDB) carries nothing: private fields stay behind.
    const clone = structuredClone(key);
    assert.ok(!(clone instanceof FieldKey));
    assert.deepEqual(Object.keys(clone), []);
  }
});

test('batches, records and rotation', async () => {
  const [pass, raw, app] = await allKeys();
  const contexts = [0, 1, 2].map((i) => ({ ...CTX, record: String(i) }));
  const sealed = await raw.sealMany(contexts.map((c, i) => [`v${i}`, c]));
  assert.deepEqual(await raw.openMany(sealed.map((s, i) => [s, contexts[i]])), ['v0', 'v1', 'v2']);
  await assert.rejects(raw.sealMany([['a', CTX], ['b', { app: 'x' }]]), FieldError);
  await assert.rejects(raw.openMany([[sealed[0], contexts[1]]]), DecryptionError);

  const record = { id: '42', email: CANARY, name: 'Zoë', phone: null, age: 31 };
  const out = await app.sealRecord(record, ['email', 'name', 'phone'], { app: 'crm', recordId: '42' });
  assert.ok(out.email.startsWith('srf1.') && !JSON.stringify(out).includes(CANARY));
  assert.equal(out.age, 31);
  assert.deepEqual(await app.openRecord(out, ['email', 'name', 'phone'], { app: 'crm', recordId: '42' }), record);
  await assert.rejects(app.openRecord(out, ['email'], { app: 'crm', recordId: '43' }), DecryptionError);
  await assert.rejects(app.sealRecord(record, ['age'], { app: 'crm', recordId: '42' }), FieldError);

  const old = await pass.seal(CANARY, CTX);
  const moved = await rewrap(old, CTX, { old: pass, new: app });
  assert.equal(await app.open(moved, CTX), CANARY);
  await assert.rejects(pass.open(moved, CTX), DecryptionError);
  const keys = new KeySet([app, pass]);
  assert.equal(await keys.open(old, CTX), CANARY);
  assert.ok(app.opens(await keys.rotate(old, CTX)));
  assert.ok(String(keys).includes('app:crm@3'));
});

test('legacy records from the source document open and upgrade', async () => {
  const b64 = (bytes) => btoa(String.fromCharCode(...bytes));
  async function legacy(plaintext, passphrase, iterations) {
    const salt = crypto.getRandomValues(new Uint8Array(16));
    const pwKey = await crypto.subtle.importKey('raw', new TextEncoder().encode(passphrase), 'PBKDF2', false, ['deriveKey']);
    const key = await crypto.subtle.deriveKey({ name: 'PBKDF2', salt, iterations, hash: 'SHA-256' }, pwKey, { name: 'AES-GCM', length: 256 }, false, ['encrypt']);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, new TextEncoder().encode(plaintext)));
    return { ct: b64(ct), iv: b64(iv), salt: b64(salt) };
  }
  const record = await legacy('Zoë 🗝️', PASSPHRASE, 100000);
  assert.ok(isLegacy(record));
  assert.equal(await openLegacy(record, PASSPHRASE), 'Zoë 🗝️');
  const custom = await legacy('', PASSPHRASE, 5000);
  assert.equal(await openLegacy(custom, PASSPHRASE, { iterations: 5000 }), '');
  await assert.rejects(openLegacy(custom, PASSPHRASE), DecryptionError);
  await assert.rejects(openLegacy(record, 'wrong'), DecryptionError);
  await assert.rejects(openLegacy({ ...record, ct: record.ct.slice(4) }, PASSPHRASE), DecryptionError);
  await assert.rejects(openLegacy({ ...record, iv: 'AAAA' }, PASSPHRASE), DecryptionError);
  await assert.rejects(openLegacy(record, PASSPHRASE, { iterations: 0 }), DecryptionError);
  await assert.rejects(openLegacy(record, PASSPHRASE, { iterations: 1e12 }), DecryptionError);
  await assert.rejects(openLegacy({ ...record, extra: 1 }, PASSPHRASE), DecryptionError);
  const key = await FieldKey.fromAppKey(rawKey(), { keyId: 'app:crm' });
  const upgraded = await upgradeLegacy(record, PASSPHRASE, { key, context: CTX });
  assert.equal(await key.open(upgraded, CTX), 'Zoë 🗝️');
  assert.equal(toJson(parse(upgraded)).kdf.name, 'HKDF-SHA256');
});
