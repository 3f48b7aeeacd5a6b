// Strongroom tokenization calls for browsers and Node >= 20 (global fetch, no dependencies).
//
// The same operations and semantics as the Python SDK's `Tokens` (src/strongroom/sdk/
// tokens.py) against /v1/apps/{app}/tokens/... (docs/tokenization.md): batches are all or
// nothing, tokenize takes an optional idempotency key, detokenize a required purpose, and
// the caller's scopes decide whether it sees plain, masked or redacted values.
//
// Errors: every failure is a TokensError carrying the problem `type` (kind: its last part),
// the HTTP `status`, the server's `detail`, the batch's per-item `items` and, for 429, the
// `retryAfter` seconds. Arguments this client refuses before calling (a missing purpose, a
// value that is not a string) are TokensError with status 0 and type `invalid-argument`;
// a network failure has status 0 and type `transport`. No message, item or detail written
// here holds a value or a token; the server's own problems never do either.

const TYPE_PREFIX = 'urn:strongroom:problem:';
const NAME_RE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;
const MAX_PURPOSE = 200;
const MAX_IDEMPOTENCY_KEY = 200;
const MAX_RETRY_WAIT_S = 60;
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/** A failed tokenization call; never holds a value or a token. */
export class TokensError extends Error {
  constructor(status, type, detail, items = [], retryAfter = null) {
    super(`${detail} (HTTP ${status})`);
    this.name = 'TokensError';
    this.status = status;
    this.type = type;
    this.detail = detail;
    this.items = items;
    this.retryAfter = retryAfter;
  }

  /** The last part of the problem type: `invalid-token`, `token-gone`, `rate-limited`, ... */
  get kind() {
    const at = this.type.lastIndexOf(':');
    return at < 0 ? this.type : this.type.slice(at + 1);
  }
}

function refuse(detail) {
  return new TokensError(0, `${TYPE_PREFIX}invalid-argument`, detail);
}

/**
 * A detokenized item: `view` is plain, masked or redacted; `value` is null when redacted.
 * The value is kept in a private field: inspecting, printing or JSON-encoding a Revealed
 * shows only its view; read `.value` to use it.
 */
export class Revealed {
  #value;

  constructor(view, value) {
    this.view = view;
    this.#value = value ?? null;
    Object.freeze(this);
  }

  get value() {
    return this.#value;
  }

  toJSON() {
    return { view: this.view };
  }

  toString() {
    return `Revealed(${this.view})`;
  }

  [INSPECT]() {
    return `Revealed { view: '${this.view}' }`;
  }
}

function checkName(what, name) {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw refuse(`${what} must be 1-64 characters of A-Z a-z 0-9 . _ - (not starting with .)`);
  }
}

function checkStrings(what, items) {
  if (!Array.isArray(items)) throw refuse(`${what} must be an array of strings`);
  items.forEach((item, index) => {
    if (typeof item !== 'string') throw refuse(`${what}[${index}] is not a string`);
  });
  return [...items];
}

function retryAfterOf(response, problem) {
  const header = Number.parseInt(response.headers.get('Retry-After') ?? '', 10);
  if (Number.isFinite(header) && header >= 0) return header;
  const inBody = problem?.retry_after;
  return Number.isInteger(inBody) && inBody >= 0 ? inBody : null;
}

async function problemOf(response) {
  let problem = null;
  try {
    problem = await response.json();
  } catch {
    problem = null;
  }
  if (problem === null || typeof problem !== 'object' || Array.isArray(problem)) {
    return new TokensError(response.status, '', 'the server answered without a problem document',
      [], retryAfterOf(response, null));
  }
  return new TokensError(
    response.status,
    String(problem.type ?? ''),
    String(problem.detail ?? 'request failed'),
    Array.isArray(problem.errors) ? problem.errors : [],
    retryAfterOf(response, problem),
  );
}

/**
 * The tokenization vault, as one app sees it.
 *
 * `new Tokens({ baseUrl, app, token })`: `token` is the bearer access token, or a function
 * (sync or async) returning one per call, so a short-lived token can be refreshed.
 * `maxRetries` (default 0, as the Python SDK) retries a 429 answer that names a wait of at
 * most 60 s, after that wait; `fetch` replaces the global fetch.
 */
export class Tokens {
  #baseUrl;
  #token;
  #fetch;
  #maxRetries;

  constructor({ baseUrl = '', app, token, fetch = globalThis.fetch, maxRetries = 0 } = {}) {
    checkName('app', app);
    if (typeof token !== 'string' && typeof token !== 'function') {
      throw refuse('token must be a string or a function returning one');
    }
    if (!Number.isInteger(maxRetries) || maxRetries < 0 || maxRetries > 10) {
      throw refuse('maxRetries must be an integer from 0 to 10');
    }
    this.app = app;
    this.#baseUrl = String(baseUrl).replace(/\/+$/, '');
    this.#token = token;
    this.#fetch = fetch;
    this.#maxRetries = maxRetries;
  }

  [INSPECT]() {
    return `Tokens { app: '${this.app}' }`;
  }

  async #bearer() {
    const token = typeof this.#token === 'function' ? await this.#token() : this.#token;
    if (typeof token !== 'string' || token === '') throw refuse('the token provider gave no token');
    return token;
  }

  async #call(method, path, body, headers = {}) {
    const url = `${this.#baseUrl}/v1/apps/${this.app}/tokens/${path}`;
    for (let attempt = 0; ; attempt++) {
      const init = {
        method,
        headers: { Accept: 'application/json', Authorization: `Bearer ${await this.#bearer()}`,
          ...headers },
        cache: 'no-store',
      };
      if (body !== undefined) {
        init.headers['Content-Type'] = 'application/json';
        init.body = JSON.stringify(body);
      }
      // Called unbound: a browser's fetch refuses a `this` other than the window.
      const send = this.#fetch;
      let response;
      try {
        response = await send(url, init);
      } catch (exc) {
        throw new TokensError(0, 'transport', exc?.name ?? 'Error');
      }
      if (response.status === 200) return response.json();
      const error = await problemOf(response);
      const wait = error.retryAfter;
      if (error.status !== 429 || attempt >= this.#maxRetries || wait === null
          || wait > MAX_RETRY_WAIT_S) {
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    }
  }

  /** Declare a policy (`region`, `scheme`, `format` and the optional fields). */
  async createPolicy(name, fields = {}) {
    checkName('policy name', name);
    return this.#call('POST', 'policies', { ...fields, name });
  }

  /** The app's policies. */
  async policies() {
    return (await this.#call('GET', 'policies')).policies;
  }

  /**
   * Tokens for `values`, in order; all or nothing (a refused batch is a TokensError with
   * kind `batch-failed` and `items` [{index, type, detail}]). A call repeated with the same
   * `idempotencyKey` and values returns the first answer and writes nothing.
   */
  async tokenize(policy, values, { idempotencyKey } = {}) {
    checkName('policy', policy);
    const body = { values: checkStrings('values', values) };
    const headers = {};
    if (idempotencyKey !== undefined && idempotencyKey !== null) {
      if (typeof idempotencyKey !== 'string' || idempotencyKey === ''
          || idempotencyKey.length > MAX_IDEMPOTENCY_KEY) {
        throw refuse(`idempotencyKey must be a string of 1-${MAX_IDEMPOTENCY_KEY} characters`);
      }
      headers['Idempotency-Key'] = idempotencyKey;
    }
    return (await this.#call('POST', `${policy}/tokenize`, body, headers)).tokens;
  }

  /** The token of one value. */
  async tokenizeOne(policy, value) {
    return (await this.tokenize(policy, [value]))[0];
  }

  /**
   * The values behind `tokens`, as Revealed items in the caller's view. `purpose` (1-200
   * characters) is required and recorded in the audit event; 429 when over the rate.
   */
  async detokenize(policy, tokens, { purpose } = {}) {
    checkName('policy', policy);
    if (typeof purpose !== 'string' || purpose.trim() === '' || purpose.length > MAX_PURPOSE) {
      throw refuse(`detokenize needs a purpose of 1-${MAX_PURPOSE} characters`);
    }
    const body = { tokens: checkStrings('tokens', tokens), purpose };
    const { items } = await this.#call('POST', `${policy}/detokenize`, body);
    return items.map((item) => new Revealed(item.view, item.value));
  }

  /** Erase the values of `tokens` (right to erasure); how many were erased now. */
  async erase(policy, tokens) {
    checkName('policy', policy);
    const body = { tokens: checkStrings('tokens', tokens) };
    return (await this.#call('POST', `${policy}/erase`, body)).count;
  }

  /** Destroy the policy's keys: its values become unrecoverable. Cannot be undone. */
  async shredPolicy(policy) {
    checkName('policy', policy);
    await this.#call('POST', `policies/${policy}/shred`);
  }
}
