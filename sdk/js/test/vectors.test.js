import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { runVectors } from '../testing/vectors.js';

const vectors = JSON.parse(
  readFileSync(new URL('../../../tests/vectors/fields/vectors.json', import.meta.url), 'utf-8'),
);

test('every shared vector passes byte for byte (or is skipped for a missing primitive)', async () => {
  const { passed, skipped, failures } = await runVectors(vectors);
  assert.deepEqual(failures, []);
  assert.equal(passed.length + skipped.length, vectors.valid.length + vectors.invalid.length);
  assert.ok(passed.length >= 35, `only ${passed.length} passed`);
  for (const name of skipped) assert.match(name, /chacha|argon2id/);
});
