// The JS tokenization client against a real Strongroom server, driven by
// tests/system/test_js_tokens_e2e.py. The server URL and the access tokens come in through
// the environment (never argv); the case (values, tokens the Python SDK made) as JSON on
// stdin. Every check is an assertion: a failure exits non-zero with the reason on stderr.
// On success, stdout is JSON with the tokens this client made, for Python to detokenize.
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { Tokens, TokensError } from '../strongroom-tokens.js';

const env = process.env;
const baseUrl = env.STRONGROOM_URL;
const stdin = await new Promise((resolve) => {
  let text = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => { text += chunk; });
  process.stdin.on('end', () => resolve(text));
});
const input = JSON.parse(stdin);
const { app, cards, emails, pyCards, pyEmails, canary } = input;
const as = (name, extra = {}) => new Tokens({ baseUrl, app, token: env[name], ...extra });
const tokenizer = as('SR_TOKENIZER');
const revealer = as('SR_REVEALER');
const analyst = as('SR_ANALYST');
const limited = as('SR_LIMITED');

async function refused(promise) {
  const error = await promise.then(() => null, (e) => e);
  assert.ok(error instanceof TokensError, `expected a TokensError, got ${error}`);
  const shown = `${error.message} ${inspect(error)} ${JSON.stringify(error.items)}`;
  assert.ok(!shown.includes(canary), 'an error holds a value');
  for (const t of [...pyCards, ...pyEmails]) assert.ok(!shown.includes(t), 'an error holds a token');
  return error;
}

// Tokenize, with an idempotency key: the same call answers the same tokens.
const cardTokens = await tokenizer.tokenize('cards', cards, { idempotencyKey: 'js-import-1' });
assert.deepEqual(await tokenizer.tokenize('cards', cards, { idempotencyKey: 'js-import-1' }), cardTokens);
const conflict = await refused(
  tokenizer.tokenize('cards', cards.slice(1), { idempotencyKey: 'js-import-1' }),
);
assert.equal(conflict.status, 409);

// Format preservation: digits stay digits, separators and the last four stay put.
cards.forEach((card, i) => {
  const token = cardTokens[i];
  assert.notEqual(token, card);
  assert.equal(token.length, card.length);
  assert.equal(token.slice(-4), card.slice(-4));
  assert.equal(token.replace(/[0-9]/g, '9'), card.replace(/[0-9]/g, '9'));
});

// Deterministic opaque tokens: equal values, equal tokens; the Python SDK's too.
const emailTokens = await tokenizer.tokenize('emails', emails);
assert.deepEqual(await tokenizer.tokenize('emails', emails), emailTokens);
assert.deepEqual(emailTokens, pyEmails);
for (const t of emailTokens) assert.match(t, /^tok_default_[A-Za-z0-9_-]{32}$/);
assert.equal(await tokenizer.tokenizeOne('emails', emails[0]), emailTokens[0]);

// The reveal scope sees plain values: of this client's tokens and of Python's (interop).
const plain = await revealer.detokenize('cards', cardTokens, { purpose: 'js chargeback 17' });
assert.deepEqual(plain.map((r) => [r.view, r.value]), cards.map((c) => ['plain', c]));
const fromPython = await revealer.detokenize('cards', pyCards, { purpose: 'js reads python' });
assert.deepEqual(fromPython.map((r) => r.value), cards);
const addresses = await revealer.detokenize('emails', pyEmails, { purpose: 'js support 4711' });
assert.deepEqual(addresses.map((r) => r.value), emails);
assert.ok(!inspect(plain).includes(cards[0].slice(0, 6)) && !JSON.stringify(plain).includes(cards[0]));

// Analysts see masked cards: the last four only (the display form of a card).
const masked = await analyst.detokenize('cards', cardTokens, { purpose: 'quarterly report' });
assert.deepEqual(
  masked.map((r) => [r.view, r.value]),
  cards.map((c) => ['masked', `****-****-****-${c.slice(-4)}`]),
);

// No purpose: the client refuses before calling; the server refuses too.
for (const options of [undefined, {}, { purpose: '' }]) {
  const error = await refused(analyst.detokenize('cards', cardTokens, options));
  assert.equal(error.status, 0);
  assert.equal(error.kind, 'invalid-argument');
}
const bare = await fetch(`${baseUrl}/v1/apps/${app}/tokens/cards/detokenize`, {
  method: 'POST',
  headers: { Authorization: `Bearer ${env.SR_ANALYST}`, 'Content-Type': 'application/json' },
  body: JSON.stringify({ tokens: cardTokens }),
});
assert.equal(bare.status, 422);
assert.equal(bare.headers.get('content-type'), 'application/problem+json');

// The wrong scope: 403, for a policy not granted and for a tokenizer detokenizing.
for (const call of [
  () => analyst.detokenize('emails', emailTokens, { purpose: 'curiosity' }),
  () => tokenizer.detokenize('cards', cardTokens, { purpose: 'curiosity' }),
  () => analyst.tokenize('cards', cards),
]) {
  const error = await refused(call());
  assert.equal(error.status, 403);
  assert.equal(error.type, 'urn:strongroom:problem:forbidden');
}

// A batch with one bad item: 422 batch-failed naming the item, nothing written.
const batch = await refused(tokenizer.tokenize('cards', [cards[0], `${canary}-abcd`]));
assert.equal(batch.status, 422);
assert.equal(batch.kind, 'batch-failed');
assert.deepEqual(batch.items.map((i) => i.index), [1]);

// A forged token: 400 invalid-token.
const forged = `tok_default_${'A'.repeat(32)}`;
const invalid = await refused(revealer.detokenize('emails', [forged], { purpose: 'check' }));
assert.equal(invalid.status, 400);
assert.equal(invalid.kind, 'invalid-token');
assert.ok(!invalid.message.includes(forged));

// Over the rate (the server's bucket holds SR_BURST values): a batch over the bucket is
// refused without a wait; an emptied bucket answers 429 with Retry-After, which a client
// with maxRetries waits out.
const burst = Number(env.SR_BURST);
const many = (n) => Array.from({ length: n }, (_, i) => cardTokens[i % cardTokens.length]);
const tooMany = await refused(limited.detokenize('cards', many(burst + 1), { purpose: 'bulk' }));
assert.equal(tooMany.status, 429);
assert.equal(tooMany.kind, 'rate-limited');
assert.equal(tooMany.retryAfter, null);
assert.equal((await limited.detokenize('cards', many(burst), { purpose: 'bulk' })).length, burst);
const empty = await refused(limited.detokenize('cards', many(1), { purpose: 'bulk' }));
assert.equal(empty.status, 429);
assert.ok(Number.isInteger(empty.retryAfter) && empty.retryAfter >= 1);
const patient = as('SR_LIMITED', { maxRetries: 3 });
const waited = await patient.detokenize('cards', many(1), { purpose: 'bulk, patiently' });
assert.equal(waited[0].view, 'masked');

// A token provider function works like a fixed token.
const provided = new Tokens({ baseUrl, app, token: async () => env.SR_TOKENIZER });
assert.deepEqual(await provided.tokenize('emails', emails.slice(0, 1)), emailTokens.slice(0, 1));

process.stdout.write(JSON.stringify({ cards: cardTokens, emails: emailTokens }));
