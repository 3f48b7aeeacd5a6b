// Unit tests of the tokenization client against a recorded far side (an injected fetch);
// tests/system/test_js_tokens_e2e.py runs it against a real server.
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { test } from 'node:test';
import { Revealed, Tokens, TokensError } from '../strongroom-tokens.js';

const CANARY = 'canary-7f3a-4242424242424242';
const PROBLEM = 'urn:strongroom:problem:';

function farSide(answers) {
  const calls = [];
  // A function, not an arrow: like a browser's fetch, it refuses to be called as a method.
  const fetch = async function (url, init) {
    if (this !== undefined) throw new TypeError('Illegal invocation');
    calls.push({ url, init, body: init.body === undefined ? undefined : JSON.parse(init.body) });
    const [status, body, headers = {}] = answers.shift();
    return new Response(JSON.stringify(body), { status, headers });
  };
  return { calls, fetch };
}

test('tokenize sends values, the idempotency key header and the bearer token', async () => {
  const side = farSide([[200, { tokens: ['t1', 't2'] }]]);
  const tokens = new Tokens({ baseUrl: 'http://sr.test/', app: 'crm', token: 'at-1', fetch: side.fetch });
  assert.deepEqual(await tokens.tokenize('cards', ['a', 'b'], { idempotencyKey: 'k-1' }), ['t1', 't2']);
  const [{ url, init, body }] = side.calls;
  assert.equal(url, 'http://sr.test/v1/apps/crm/tokens/cards/tokenize');
  assert.equal(init.method, 'POST');
  assert.equal(init.headers.Authorization, 'Bearer at-1');
  assert.equal(init.headers['Idempotency-Key'], 'k-1');
  assert.deepEqual(body, { values: ['a', 'b'] });
});

test('a token provider is asked on every call', async () => {
  const side = farSide([[200, { tokens: ['t'] }], [200, { tokens: ['u'] }]]);
  let n = 0;
  const tokens = new Tokens({ app: 'crm', token: async () => `at-${++n}`, fetch: side.fetch });
  await tokens.tokenizeOne('cards', 'a');
  await tokens.tokenizeOne('cards', 'b');
  assert.deepEqual(side.calls.map((c) => c.init.headers.Authorization), ['Bearer at-1', 'Bearer at-2']);
});

test('detokenize refuses a missing or empty purpose without calling', async () => {
  const side = farSide([]);
  const tokens = new Tokens({ app: 'crm', token: 't', fetch: side.fetch });
  for (const options of [undefined, {}, { purpose: '' }, { purpose: '  ' }, { purpose: 'x'.repeat(201) }]) {
    const error = await tokens.detokenize('cards', ['t'], options).catch((e) => e);
    assert.ok(error instanceof TokensError);
    assert.equal(error.status, 0);
    assert.equal(error.kind, 'invalid-argument');
  }
  assert.equal(side.calls.length, 0);
});

test('bad arguments are refused and their values are not echoed', async () => {
  const tokens = new Tokens({ app: 'crm', token: 't', fetch: farSide([]).fetch });
  for (const call of [
    () => tokens.tokenize('cards', [CANARY, 42]),
    () => tokens.tokenize('cards', CANARY),
    () => tokens.tokenize('../sys', [CANARY]),
    () => tokens.tokenize('..', [CANARY]),
    () => tokens.tokenize('cards', [CANARY], { idempotencyKey: '' }),
  ]) {
    const error = await call().catch((e) => e);
    assert.equal(error.kind, 'invalid-argument');
    assert.ok(!error.message.includes(CANARY) && !inspect(error).includes(CANARY));
  }
  assert.throws(() => new Tokens({ app: 'crm/x', token: 't' }), TokensError);
  assert.throws(() => new Tokens({ app: 'crm' }), TokensError);
});

test('a problem answer becomes a TokensError with its type, status and items', async () => {
  const problem = {
    type: `${PROBLEM}batch-failed`,
    title: 'Batch failed',
    status: 422,
    detail: '1 of 2 items failed',
    errors: [{ index: 1, type: `${PROBLEM}invalid-format`, detail: 'not a card number' }],
  };
  const side = farSide([[422, problem, { 'Content-Type': 'application/problem+json' }]]);
  const tokens = new Tokens({ app: 'crm', token: 't', fetch: side.fetch });
  const error = await tokens.tokenize('cards', ['4242', CANARY]).catch((e) => e);
  assert.ok(error instanceof TokensError && error instanceof Error);
  assert.equal(error.status, 422);
  assert.equal(error.kind, 'batch-failed');
  assert.equal(error.message, '1 of 2 items failed (HTTP 422)');
  assert.deepEqual(error.items.map((i) => i.index), [1]);
  assert.equal(error.retryAfter, null);
});

test('a body that is not a problem still gives a TokensError', async () => {
  const fetch = async () => new Response('<html>bad gateway</html>', { status: 502 });
  const error = await new Tokens({ app: 'crm', token: 't', fetch }).policies().catch((e) => e);
  assert.equal(error.status, 502);
  assert.equal(error.type, '');
  assert.equal(error.message, 'the server answered without a problem document (HTTP 502)');
});

test('a transport failure is a TokensError naming only the error class', async () => {
  const fetch = async () => {
    throw new TypeError(`fetch failed for ${CANARY}`);
  };
  const error = await new Tokens({ app: 'crm', token: 't', fetch }).tokenizeOne('c', CANARY).catch((e) => e);
  assert.equal(error.type, 'transport');
  assert.equal(error.status, 0);
  assert.ok(!inspect(error).includes(CANARY));
});

test('429 carries retryAfter; maxRetries waits that long and retries', async () => {
  const limited = [
    429,
    { type: `${PROBLEM}rate-limited`, status: 429, detail: 'retry in 1 s', retry_after: 1 },
    { 'Retry-After': '1' },
  ];
  const once = farSide([limited]);
  const plain = new Tokens({ app: 'crm', token: 't', fetch: once.fetch });
  const error = await plain.detokenize('cards', ['t'], { purpose: 'p' }).catch((e) => e);
  assert.equal(error.kind, 'rate-limited');
  assert.equal(error.retryAfter, 1);

  const twice = farSide([limited, [200, { items: [{ view: 'masked', value: '****4242' }] }]]);
  const patient = new Tokens({ app: 'crm', token: 't', fetch: twice.fetch, maxRetries: 1 });
  const started = Date.now();
  const [item] = await patient.detokenize('cards', ['t'], { purpose: 'p' });
  assert.ok(Date.now() - started >= 900);
  assert.equal(item.value, '****4242');
  assert.equal(twice.calls.length, 2);
});

test('a Revealed shows its view, never its value, when printed or encoded', () => {
  const item = new Revealed('plain', CANARY);
  assert.equal(item.value, CANARY);
  for (const shown of [inspect(item), String(item), JSON.stringify(item), inspect([item])]) {
    assert.ok(shown.includes('plain') && !shown.includes(CANARY), shown);
  }
  assert.equal(new Revealed('redacted', null).value, null);
  assert.ok(!inspect(new Tokens({ app: 'crm', token: CANARY })).includes(CANARY));
});
