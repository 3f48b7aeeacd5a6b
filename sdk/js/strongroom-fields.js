// Strongroom client-side field encryption for browsers and Node >= 20 (Web Crypto only).
//
// The sealed-field format is specified in docs/format.md; this module reads and writes it
// byte for byte like the Python SDK. Web Crypto has neither ChaCha20-Poly1305 nor Argon2id,
// so this SDK seals with AES-256-GCM under raw, PBKDF2-HMAC-SHA256 or HKDF-SHA256 keys and
// refuses (one opaque DecryptionError) values that use the other two.
//
// Keys are non-extractable CryptoKeys, derived once per header and reused. A passphrase or
// app key is imported as a non-extractable base key; its bytes are not kept.
//
// Errors: FieldError for input this SDK refuses (bad context, bounds, types); DecryptionError
// for every failure to open, whatever its cause, with one message.

const VERSION = 0x01;
const ALG_AES = 1;
const ALG_CHACHA = 2;
const KDF_RAW = 0;
const KDF_PBKDF2 = 1;
const KDF_ARGON2ID = 2;
const KDF_HKDF = 3;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const SALT_MIN = 16;
const SALT_MAX = 64;
const SALT_BYTES = 16;
const KEY_ID_MAX = 64;
const CONTEXT_PART_MAX = 255;
export const MAX_PLAINTEXT = 1 << 20;
const MAX_HEADER = 4 + KEY_ID_MAX + 4 + 14 + 64;
const MAX_SEALED = MAX_HEADER + NONCE_BYTES + MAX_PLAINTEXT + TAG_BYTES;
const PREFIX = 'srf1.';
const MAX_COMPACT = PREFIX.length + Math.floor((MAX_SEALED * 4 + 2) / 3);
export const PBKDF2_DEFAULT_ITERATIONS = 600000;
const PBKDF2_MIN = 1000;
const PBKDF2_MAX = 2000000;
const MIN_NEW_ITERATIONS = 100000;
const ARGON2_MAX_TIME = 10;
const ARGON2_MAX_MEMORY = 262144;
const ARGON2_MAX_PARALLELISM = 16;
export const LEGACY_DEFAULT_ITERATIONS = 100000;
const CACHE_SIZE = 32;
const KEY_ID_RE = /^[A-Za-z0-9._:@/+-]{1,64}$/;
const B64URL_RE = /^[A-Za-z0-9_-]*$/;
const B64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const LONE_SURROGATE = /\p{Cs}/u;
const CONTEXT_LABEL = new TextEncoder().encode('strongroom.field.v1\u0000');
const HKDF_INFO = new TextEncoder().encode('strongroom.fields.v1');
const ALG_LABELS = { [ALG_AES]: 'AES-256-GCM', [ALG_CHACHA]: 'ChaCha20-Poly1305' };
const KDF_NAMES = {
  [KDF_RAW]: 'raw',
  [KDF_PBKDF2]: 'PBKDF2-HMAC-SHA256',
  [KDF_ARGON2ID]: 'Argon2id',
  [KDF_HKDF]: 'HKDF-SHA256',
};
const KDF_JSON_KEYS = {
  raw: ['name'],
  'PBKDF2-HMAC-SHA256': ['iterations', 'name', 'salt'],
  Argon2id: ['memory_kib', 'name', 'parallelism', 'salt', 'time_cost'],
  'HKDF-SHA256': ['name', 'salt'],
};
const JSON_KEYS = ['alg', 'ct', 'kdf', 'kid', 'kver', 'nonce', 'v'];
const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const subtle = globalThis.crypto.subtle;
const TOKEN = Symbol('FieldKey');
const SEAL = Symbol('seal');
const FROM_PASSPHRASE = Symbol('fromPassphrase');
const FROM_APP_KEY = Symbol('fromAppKey');
const CRYPTO_KEYS = Symbol('cryptoKeys');

/** Every failure to open a sealed field or legacy record; says nothing about why. */
export class DecryptionError extends Error {
  constructor() {
    super('Decryption failed.');
    this.name = 'DecryptionError';
  }
}

/** Input this SDK refuses to seal or build a key from; the message names the rule. */
export class FieldError extends Error {
  constructor(message) {
    super(message);
    this.name = 'FieldError';
  }
}

// -- bytes -------------------------------------------------------------------------------

function concat(...parts) {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function u32(n) {
  return new Uint8Array([(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
}

function readU32(data, at) {
  return ((data[at] << 24) >>> 0) + (data[at + 1] << 16) + (data[at + 2] << 8) + data[at + 3];
}

function binaryString(data) {
  let out = '';
  for (let i = 0; i < data.length; i += 0x8000) {
    out += String.fromCharCode.apply(null, data.subarray(i, i + 0x8000));
  }
  return out;
}

function fromBinaryString(text) {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** Unpadded base64url (RFC 4648 section 5). */
export function b64urlEncode(data) {
  return btoa(binaryString(data)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const B64_INDEX = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Decode canonical unpadded base64url; DecryptionError for anything else. */
export function b64urlDecode(text) {
  if (typeof text !== 'string' || !B64URL_RE.test(text)) throw new DecryptionError();
  const rest = text.length % 4;
  if (rest === 1) throw new DecryptionError();
  if (rest && B64_INDEX.indexOf(text[text.length - 1]) & (rest === 2 ? 0x0f : 0x03)) {
    throw new DecryptionError();
  }
  const standard = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - rest) % 4);
  return fromBinaryString(atob(standard));
}

function toBytes(hexOrBytes) {
  if (hexOrBytes instanceof Uint8Array) return hexOrBytes;
  if (hexOrBytes instanceof ArrayBuffer) return new Uint8Array(hexOrBytes);
  throw new FieldError('key material must be a Uint8Array');
}

// -- context -----------------------------------------------------------------------------

function contextBytes(context) {
  if (context === null || typeof context !== 'object') {
    throw new FieldError('a context has exactly the keys app, record and field');
  }
  const keys = Object.keys(context).sort();
  if (keys.length !== 3 || keys[0] !== 'app' || keys[1] !== 'field' || keys[2] !== 'record') {
    throw new FieldError('a context has exactly the keys app, record and field');
  }
  const parts = [CONTEXT_LABEL];
  for (const name of ['app', 'record', 'field']) {
    const value = context[name];
    if (typeof value !== 'string') throw new FieldError(`context ${name} must be a string`);
    if (LONE_SURROGATE.test(value)) {
      throw new FieldError(`context ${name} must be valid Unicode text`);
    }
    const raw = encoder.encode(value);
    if (raw.length < 1 || raw.length > CONTEXT_PART_MAX) {
      throw new FieldError(`context ${name} must be 1..${CONTEXT_PART_MAX} UTF-8 bytes`);
    }
    parts.push(new Uint8Array([raw.length >> 8, raw.length & 255]), raw);
  }
  return concat(...parts);
}

// -- header ------------------------------------------------------------------------------

function checkInt(value, low, high, what) {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < low || value > high) {
    throw new FieldError(`${what} must be an integer in ${low}..${high}`);
  }
}

function checkSalt(salt) {
  if (!(salt instanceof Uint8Array) || salt.length < SALT_MIN || salt.length > SALT_MAX) {
    throw new FieldError(`the salt must be ${SALT_MIN}..${SALT_MAX} bytes`);
  }
}

function checkHeader(h) {
  if (h.alg !== ALG_AES && h.alg !== ALG_CHACHA) throw new FieldError('unknown algorithm');
  if (typeof h.keyId !== 'string' || !KEY_ID_RE.test(h.keyId)) {
    throw new FieldError('a key id is 1..64 characters of A-Z a-z 0-9 . _ : @ / + -');
  }
  checkInt(h.keyVersion, 0, 2 ** 32 - 1, 'a key version');
  const k = h.kdf;
  if (k.code === KDF_PBKDF2) checkInt(k.iterations, PBKDF2_MIN, PBKDF2_MAX, 'iterations');
  if (k.code === KDF_ARGON2ID) {
    checkInt(k.timeCost, 1, ARGON2_MAX_TIME, 'Argon2 time cost');
    checkInt(k.parallelism, 1, ARGON2_MAX_PARALLELISM, 'Argon2 parallelism');
    checkInt(k.memoryKib, 8 * k.parallelism, ARGON2_MAX_MEMORY, 'Argon2 memory (KiB)');
  }
  if (k.code !== KDF_RAW) checkSalt(k.salt);
}

function encodeHeader(h) {
  const kid = encoder.encode(h.keyId);
  const parts = [new Uint8Array([VERSION, h.alg, h.kdf.code, kid.length]), kid, u32(h.keyVersion)];
  const k = h.kdf;
  if (k.code === KDF_PBKDF2) parts.push(u32(k.iterations));
  if (k.code === KDF_ARGON2ID) {
    parts.push(u32(k.timeCost), u32(k.memoryKib), new Uint8Array([k.parallelism]));
  }
  if (k.code !== KDF_RAW) parts.push(new Uint8Array([k.salt.length]), k.salt);
  return concat(...parts);
}

function parseHeader(data) {
  if (data.length < 4 || data[0] !== VERSION) throw new DecryptionError();
  const alg = data[1];
  const code = data[2];
  const kidLen = data[3];
  if ((alg !== ALG_AES && alg !== ALG_CHACHA) || kidLen < 1 || kidLen > KEY_ID_MAX) {
    throw new DecryptionError();
  }
  let at = 4 + kidLen;
  if (data.length < at + 4) throw new DecryptionError();
  const kidBytes = data.subarray(4, at);
  if (kidBytes.some((b) => b > 0x7f)) throw new DecryptionError();
  const keyId = String.fromCharCode(...kidBytes);
  const keyVersion = readU32(data, at);
  at += 4;
  let kdf;
  const need = (n) => {
    if (data.length < at + n) throw new DecryptionError();
  };
  const salt = () => {
    need(1);
    const size = data[at];
    at += 1;
    need(size);
    const out = data.slice(at, at + size);
    at += size;
    return out;
  };
  if (code === KDF_RAW) {
    kdf = { code };
  } else if (code === KDF_PBKDF2) {
    need(4);
    const iterations = readU32(data, at);
    at += 4;
    kdf = { code, iterations, salt: salt() };
  } else if (code === KDF_ARGON2ID) {
    need(9);
    const timeCost = readU32(data, at);
    const memoryKib = readU32(data, at + 4);
    const parallelism = data[at + 8];
    at += 9;
    kdf = { code, timeCost, memoryKib, parallelism, salt: salt() };
  } else if (code === KDF_HKDF) {
    kdf = { code, salt: salt() };
  } else {
    throw new DecryptionError();
  }
  const header = { alg, keyId, keyVersion, kdf };
  try {
    checkHeader(header);
  } catch {
    throw new DecryptionError();
  }
  return { header, end: at };
}

/**
 * Parse a sealed field in any form (compact string, JSON object, or bytes).
 * Returns {header, headerBytes, nonce, ciphertext}; DecryptionError if it is not one.
 */
export function parse(value) {
  if (typeof value === 'string') {
    if (value.length > MAX_COMPACT || !value.startsWith(PREFIX)) throw new DecryptionError();
    return parseBytes(b64urlDecode(value.slice(PREFIX.length)));
  }
  if (value instanceof Uint8Array) return parseBytes(value);
  return parseJson(value);
}

function parseBytes(data) {
  const { header, end } = parseHeader(data);
  const bodyLen = data.length - end;
  if (bodyLen < NONCE_BYTES + TAG_BYTES || bodyLen > NONCE_BYTES + MAX_PLAINTEXT + TAG_BYTES) {
    throw new DecryptionError();
  }
  return {
    header,
    headerBytes: data.slice(0, end),
    nonce: data.slice(end, end + NONCE_BYTES),
    ciphertext: data.slice(end + NONCE_BYTES),
  };
}

function exactKeys(obj, keys) {
  const have = Object.keys(obj).sort();
  return have.length === keys.length && have.every((k, i) => k === keys[i]);
}

function parseJson(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new DecryptionError();
  }
  if (!exactKeys(value, JSON_KEYS) || value.v !== VERSION) throw new DecryptionError();
  const alg = Object.keys(ALG_LABELS).find((k) => ALG_LABELS[k] === value.alg);
  const k = value.kdf;
  if (alg === undefined || k === null || typeof k !== 'object' || Array.isArray(k)) {
    throw new DecryptionError();
  }
  if (typeof k.name !== 'string' || !Object.hasOwn(KDF_JSON_KEYS, k.name)) {
    throw new DecryptionError();
  }
  if (!exactKeys(k, KDF_JSON_KEYS[k.name])) throw new DecryptionError();
  const code = Number(Object.keys(KDF_NAMES).find((c) => KDF_NAMES[c] === k.name));
  const kdf = { code };
  if (code !== KDF_RAW) kdf.salt = b64urlDecode(k.salt);
  if (code === KDF_PBKDF2) kdf.iterations = k.iterations;
  if (code === KDF_ARGON2ID) {
    kdf.timeCost = k.time_cost;
    kdf.memoryKib = k.memory_kib;
    kdf.parallelism = k.parallelism;
  }
  const header = { alg: Number(alg), keyId: value.kid, keyVersion: value.kver, kdf };
  try {
    checkHeader(header);
  } catch {
    throw new DecryptionError();
  }
  const nonce = b64urlDecode(value.nonce);
  const ciphertext = b64urlDecode(value.ct);
  if (nonce.length !== NONCE_BYTES) throw new DecryptionError();
  if (ciphertext.length < TAG_BYTES || ciphertext.length > MAX_PLAINTEXT + TAG_BYTES) {
    throw new DecryptionError();
  }
  return { header, headerBytes: encodeHeader(header), nonce, ciphertext };
}

/** The compact form of a parsed sealed field. */
export function toCompact(sealed) {
  return PREFIX + b64urlEncode(concat(sealed.headerBytes, sealed.nonce, sealed.ciphertext));
}

/** The JSON form (a plain object) of a parsed sealed field. */
export function toJson(sealed) {
  const h = sealed.header;
  const kdf = { name: KDF_NAMES[h.kdf.code] };
  if (h.kdf.code === KDF_PBKDF2) kdf.iterations = h.kdf.iterations;
  if (h.kdf.code === KDF_ARGON2ID) {
    kdf.time_cost = h.kdf.timeCost;
    kdf.memory_kib = h.kdf.memoryKib;
    kdf.parallelism = h.kdf.parallelism;
  }
  if (h.kdf.code !== KDF_RAW) kdf.salt = b64urlEncode(h.kdf.salt);
  return {
    v: VERSION,
    alg: ALG_LABELS[h.alg],
    kid: h.keyId,
    kver: h.keyVersion,
    kdf,
    nonce: b64urlEncode(sealed.nonce),
    ct: b64urlEncode(sealed.ciphertext),
  };
}

// -- keys --------------------------------------------------------------------------------

const AES = { name: 'AES-GCM', length: 256 };
const USAGES = ['encrypt', 'decrypt'];

async function deriveAesKey(kind, base, kdf) {
  if (kind === 'raw') return base;
  if (kind === 'passphrase') {
    const params = { name: 'PBKDF2', hash: 'SHA-256', salt: kdf.salt, iterations: kdf.iterations };
    return subtle.deriveKey(params, base, AES, false, USAGES);
  }
  const params = { name: 'HKDF', hash: 'SHA-256', salt: kdf.salt, info: HKDF_INFO };
  return subtle.deriveKey(params, base, AES, false, USAGES);
}

const KIND_KDF = { passphrase: KDF_PBKDF2, raw: KDF_RAW, app: KDF_HKDF };

function headerKey(bytes) {
  return binaryString(bytes);
}

function algorithmCode(name) {
  if (name === 'AES-256-GCM') return ALG_AES;
  if (name === 'ChaCha20-Poly1305') {
    throw new FieldError('ChaCha20-Poly1305 is not available in Web Crypto; use AES-256-GCM');
  }
  throw new FieldError('algorithm must be AES-256-GCM');
}

function keyMaterial(key, what) {
  const bytes = toBytes(key);
  if (bytes.length !== KEY_BYTES) throw new FieldError(`${what} must be 32 bytes`);
  return bytes;
}

function randomBytes(n) {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

/**
 * A handle to one field key (key id + version). Build it with FieldKey.fromPassphrase,
 * FieldKey.fromRawKey or FieldKey.fromAppKey; it holds non-extractable CryptoKeys only.
 */
export class FieldKey {
  #kind;
  #base;
  #header;
  #headerBytes;
  #aesKey;
  #cache = new Map();

  constructor(token, kind, base, header, aesKey) {
    if (token !== TOKEN) {
      throw new TypeError('use FieldKey.fromPassphrase, fromRawKey or fromAppKey');
    }
    this.#kind = kind;
    this.#base = base;
    this.#header = header;
    this.#headerBytes = encodeHeader(header);
    this.#aesKey = aesKey;
    this.#cache.set(headerKey(this.#headerBytes), aesKey);
    Object.freeze(this);
  }

  /** The key id new values carry. */
  get keyId() {
    return this.#header.keyId;
  }

  /** The key version new values carry. */
  get keyVersion() {
    return this.#header.keyVersion;
  }

  /** The algorithm new values are sealed with. */
  get algorithm() {
    return ALG_LABELS[this.#header.alg];
  }

  /**
   * A handle whose key is derived from `passphrase` with PBKDF2-HMAC-SHA256 and a fresh
   * random salt. Options: keyId (required), keyVersion (1), iterations (600,000; at least
   * 100,000), kdf ('PBKDF2-HMAC-SHA256'; Argon2id is not available in Web Crypto).
   */
  static async fromPassphrase(passphrase, options = {}) {
    return FieldKey[FROM_PASSPHRASE](passphrase, randomBytes(SALT_BYTES), options);
  }

  static async [FROM_PASSPHRASE](passphrase, salt, options) {
    const {
      keyId,
      keyVersion = 1,
      kdf = 'PBKDF2-HMAC-SHA256',
      iterations = PBKDF2_DEFAULT_ITERATIONS,
      algorithm = 'AES-256-GCM',
    } = options;
    if (typeof passphrase !== 'string' || passphrase.length === 0) {
      throw new FieldError('the passphrase must be a non-empty string');
    }
    if (kdf !== 'PBKDF2-HMAC-SHA256') {
      throw new FieldError('kdf must be PBKDF2-HMAC-SHA256 (Argon2id is not in Web Crypto)');
    }
    if (typeof iterations === 'number' && iterations < MIN_NEW_ITERATIONS) {
      throw new FieldError(`new keys need at least ${MIN_NEW_ITERATIONS} iterations`);
    }
    const header = {
      alg: algorithmCode(algorithm),
      keyId,
      keyVersion,
      kdf: { code: KDF_PBKDF2, iterations, salt },
    };
    checkHeader(header);
    if (LONE_SURROGATE.test(passphrase)) {
      throw new FieldError('the passphrase must be valid Unicode text');
    }
    const base = await subtle.importKey('raw', encoder.encode(passphrase), 'PBKDF2', false, [
      'deriveKey',
    ]);
    const aesKey = await deriveAesKey('passphrase', base, header.kdf);
    return new FieldKey(TOKEN, 'passphrase', base, header, aesKey);
  }

  /** A handle on a 32-byte key from a keystore, used as is (KDF raw). */
  static async fromRawKey(key, options = {}) {
    const { keyId, keyVersion = 1, algorithm = 'AES-256-GCM' } = options;
    const bytes = keyMaterial(key, 'a raw key');
    const header = { alg: algorithmCode(algorithm), keyId, keyVersion, kdf: { code: KDF_RAW } };
    checkHeader(header);
    const aesKey = await subtle.importKey('raw', bytes, AES, false, USAGES);
    return new FieldKey(TOKEN, 'raw', aesKey, header, aesKey);
  }

  /** A handle deriving field keys from a 32-byte app or platform key (HKDF-SHA256). */
  static async fromAppKey(key, options = {}) {
    return FieldKey[FROM_APP_KEY](key, randomBytes(SALT_BYTES), options);
  }

  static async [FROM_APP_KEY](key, salt, options) {
    const { keyId, keyVersion = 1, algorithm = 'AES-256-GCM' } = options;
    const bytes = keyMaterial(key, 'an app key');
    const header = {
      alg: algorithmCode(algorithm),
      keyId,
      keyVersion,
      kdf: { code: KDF_HKDF, salt },
    };
    checkHeader(header);
    const base = await subtle.importKey('raw', bytes, 'HKDF', false, ['deriveKey']);
    const aesKey = await deriveAesKey('app', base, header.kdf);
    return new FieldKey(TOKEN, 'app', base, header, aesKey);
  }

  static [CRYPTO_KEYS](handle) {
    return [handle.#base, handle.#aesKey, ...handle.#cache.values()];
  }

  toString() {
    return `FieldKey(keyId=${this.keyId}, keyVersion=${this.keyVersion}, <redacted>)`;
  }

  toJSON() {
    throw new TypeError('field keys cannot be serialised');
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return this.toString();
  }

  /** Seal the text `value` for `context`; resolves to the compact form. */
  async seal(value, context) {
    if (typeof value !== 'string') throw new FieldError('seal takes text; use sealBytes');
    if (LONE_SURROGATE.test(value)) throw new FieldError('the value must be valid Unicode text');
    return this.sealBytes(encoder.encode(value), context);
  }

  /** Seal the bytes `value` for `context`; resolves to the compact form. */
  async sealBytes(value, context) {
    return PREFIX + b64urlEncode(await this[SEAL](value, context, randomBytes(NONCE_BYTES)));
  }

  /** Seal the text `value` for `context`; resolves to the JSON form. */
  async sealJson(value, context) {
    return toJson(parse(await this.seal(value, context)));
  }

  async [SEAL](value, context, nonce) {
    if (!(value instanceof Uint8Array) || value.length > MAX_PLAINTEXT) {
      throw new FieldError(`a field value must be bytes, at most ${MAX_PLAINTEXT} bytes`);
    }
    const aad = concat(this.#headerBytes, contextBytes(context));
    const params = { name: 'AES-GCM', iv: nonce, additionalData: aad, tagLength: 128 };
    const body = new Uint8Array(await subtle.encrypt(params, this.#aesKey, value));
    return concat(this.#headerBytes, nonce, body);
  }

  /** The text sealed in `sealed` (any form); DecryptionError on any failure. */
  async open(sealed, context) {
    const data = await this.openBytes(sealed, context);
    try {
      return strictDecoder.decode(data);
    } catch {
      throw new DecryptionError();
    }
  }

  /** The bytes sealed in `sealed` (any form); DecryptionError on any failure. */
  async openBytes(sealed, context) {
    let ctx;
    let parsed;
    try {
      ctx = contextBytes(context);
      parsed = parse(sealed);
    } catch {
      throw new DecryptionError();
    }
    const key = await this.#keyFor(parsed);
    const params = {
      name: 'AES-GCM',
      iv: parsed.nonce,
      additionalData: concat(parsed.headerBytes, ctx),
      tagLength: 128,
    };
    try {
      return new Uint8Array(await subtle.decrypt(params, key, parsed.ciphertext));
    } catch {
      throw new DecryptionError();
    }
  }

  async #keyFor(parsed) {
    const id = headerKey(parsed.headerBytes);
    const cached = this.#cache.get(id);
    if (cached !== undefined) return cached;
    const h = parsed.header;
    if (
      h.keyId !== this.#header.keyId ||
      h.keyVersion !== this.#header.keyVersion ||
      h.alg !== ALG_AES ||
      h.kdf.code !== KIND_KDF[this.#kind]
    ) {
      throw new DecryptionError();
    }
    let key;
    try {
      key = await deriveAesKey(this.#kind, this.#base, h.kdf);
    } catch {
      throw new DecryptionError();
    }
    this.#cache.set(id, key);
    if (this.#cache.size > CACHE_SIZE) {
      const own = headerKey(this.#headerBytes);
      for (const k of this.#cache.keys()) {
        if (k !== own) {
          this.#cache.delete(k);
          break;
        }
      }
    }
    return key;
  }

  /** True if `sealed` names this handle's key id and version (nothing is decrypted). */
  opens(sealed) {
    try {
      const h = parse(sealed).header;
      return h.keyId === this.keyId && h.keyVersion === this.keyVersion;
    } catch {
      return false;
    }
  }

  /** Seal each [value, context]; all or nothing. */
  async sealMany(items) {
    const list = Array.from(items);
    for (const [, context] of list) contextBytes(context);
    return Promise.all(list.map(([value, context]) => this.seal(value, context)));
  }

  /** Open each [sealed, context]; one failure rejects with DecryptionError. */
  async openMany(items) {
    return Promise.all(Array.from(items).map(([sealed, ctx]) => this.open(sealed, ctx)));
  }

  /** A copy of `record` with each of `fields` sealed for (app, recordId, field). */
  async sealRecord(record, fields, { app, recordId }) {
    const out = { ...record };
    for (const name of fieldNames(fields)) {
      const value = out[name];
      if (value === undefined || value === null) continue;
      if (typeof value !== 'string') {
        throw new FieldError('only text fields can be sealed; serialise other values first');
      }
      out[name] = await this.seal(value, { app, record: recordId, field: name });
    }
    return out;
  }

  /** A copy of `record` with each of `fields` opened; the inverse of sealRecord. */
  async openRecord(record, fields, { app, recordId }) {
    const out = { ...record };
    for (const name of fieldNames(fields)) {
      const value = out[name];
      if (value === undefined || value === null) continue;
      out[name] = await this.open(value, { app, record: recordId, field: name });
    }
    return out;
  }
}

function fieldNames(fields) {
  if (!Array.isArray(fields) || !fields.every((n) => typeof n === 'string')) {
    throw new FieldError('fields must be a list of field names');
  }
  return [...new Set(fields)];
}

/** Several handles for rotation: seals with the first, opens with whichever matches. */
export class KeySet {
  #keys;

  constructor(keys) {
    if (!Array.isArray(keys) || keys.length === 0 || !keys.every((k) => k instanceof FieldKey)) {
      throw new FieldError('a KeySet needs at least one FieldKey');
    }
    this.#keys = [...keys];
  }

  get primary() {
    return this.#keys[0];
  }

  seal(value, context) {
    return this.#keys[0].seal(value, context);
  }

  #keyFor(sealed) {
    const key = this.#keys.find((k) => k.opens(sealed));
    if (key === undefined) throw new DecryptionError();
    return key;
  }

  async open(sealed, context) {
    return this.#keyFor(sealed).open(sealed, context);
  }

  async rotate(sealed, context) {
    return rewrap(sealed, context, { old: this.#keyFor(sealed), new: this.#keys[0] });
  }

  toString() {
    return `KeySet([${this.#keys.map((k) => `${k.keyId}@${k.keyVersion}`).join(', ')}])`;
  }
}

/** Open `sealed` with `old` and seal it with `new` for the same context, on the client. */
export async function rewrap(sealed, context, { old, new: next }) {
  return next.sealBytes(await old.openBytes(sealed, context), context);
}

// -- app keys from Strongroom -----------------------------------------------------------

/**
 * A FieldKey on an app's key fetched from Strongroom with an access token holding
 * `fields:app-key:<app>` (the newest version unless `version` is given). The key bytes are
 * imported as a non-extractable HKDF key and then zeroed. FieldError if the server refuses.
 */
export async function fetchAppKey(app, { token, baseUrl = '', version, fetch = globalThis.fetch } = {}) {
  if (typeof app !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(app)) {
    throw new FieldError('app must be 1-64 characters of A-Z a-z 0-9 . _ -');
  }
  const query = version === undefined ? '' : `?version=${encodeURIComponent(String(version))}`;
  const response = await fetch(`${baseUrl}/v1/fields/apps/${app}/key${query}`, {
    headers: { Authorization: `Bearer ${token}` },
    cache: 'no-store',
  });
  if (!response.ok) throw new FieldError(`Strongroom refused the app key (HTTP ${response.status})`);
  const body = await response.json();
  let key;
  try {
    key = b64urlDecode(body.key);
  } catch {
    throw new FieldError('Strongroom sent no usable app key');
  }
  try {
    return await FieldKey.fromAppKey(key, { keyId: body.key_id, keyVersion: body.version });
  } finally {
    key.fill(0);
  }
}

// -- legacy records ----------------------------------------------------------------------

function b64Standard(text) {
  if (typeof text !== 'string' || text.length % 4 !== 0 || !B64_RE.test(text)) {
    throw new DecryptionError();
  }
  try {
    return fromBinaryString(atob(text));
  } catch {
    throw new DecryptionError();
  }
}

/** True if `value` has the shape of a legacy record (exactly ct, iv and salt). */
export function isLegacy(value) {
  return (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    exactKeys(value, ['ct', 'iv', 'salt'])
  );
}

/**
 * The text of a legacy {ct, iv, salt} record (the source document's raw Web Crypto recipe:
 * PBKDF2-SHA256, AES-256-GCM, no associated data). DecryptionError on every failure.
 */
export async function openLegacy(record, passphrase, { iterations = LEGACY_DEFAULT_ITERATIONS } = {}) {
  if (!isLegacy(record) || typeof passphrase !== 'string') throw new DecryptionError();
  const ct = b64Standard(record.ct);
  const iv = b64Standard(record.iv);
  const salt = b64Standard(record.salt);
  if (iv.length !== NONCE_BYTES || salt.length < 8 || salt.length > SALT_MAX) {
    throw new DecryptionError();
  }
  if (ct.length < TAG_BYTES || ct.length > MAX_PLAINTEXT + TAG_BYTES) throw new DecryptionError();
  if (!Number.isInteger(iterations) || iterations < PBKDF2_MIN || iterations > PBKDF2_MAX) {
    throw new DecryptionError();
  }
  try {
    const base = await subtle.importKey('raw', encoder.encode(passphrase), 'PBKDF2', false, [
      'deriveKey',
    ]);
    const key = await subtle.deriveKey(
      { name: 'PBKDF2', hash: 'SHA-256', salt, iterations },
      base,
      AES,
      false,
      ['decrypt'],
    );
    const data = await subtle.decrypt({ name: 'AES-GCM', iv, tagLength: 128 }, key, ct);
    return strictDecoder.decode(new Uint8Array(data));
  } catch {
    throw new DecryptionError();
  }
}

/** A legacy record re-sealed under `key` for `context` (the compact form). */
export async function upgradeLegacy(record, passphrase, { key, context, iterations } = {}) {
  return key.seal(await openLegacy(record, passphrase, { iterations }), context);
}

/** Private hooks for test vectors only: never reuse a nonce. */
export const _testing = Object.freeze({
  sealWithNonce: (key, value, context, nonce) => key[SEAL](value, context, nonce),
  passphraseWithSalt: (passphrase, salt, options) =>
    FieldKey[FROM_PASSPHRASE](passphrase, salt, options),
  appKeyWithSalt: (key, salt, options) => FieldKey[FROM_APP_KEY](key, salt, options),
  contextBytes,
  cryptoKeys: (handle) => FieldKey[CRYPTO_KEYS](handle),
});
