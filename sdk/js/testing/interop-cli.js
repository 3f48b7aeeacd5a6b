// Node entry for the Python interop tests: a JSON request on stdin, the JSON answer on stdout.
import { runInterop } from './interop.js';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const answer = await runInterop(JSON.parse(Buffer.concat(chunks).toString('utf-8')));
process.stdout.write(JSON.stringify(answer));
