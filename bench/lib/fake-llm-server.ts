// The fake OpenAI/Anthropic upstream of the tests (test/harness/fake-llm-upstream.ts) as its own process, for
// bench/proxy.ts: it prints its URL on the first line and serves until it is killed. With
// `--first-token-ms F --jitter J --token-interval-ms I --tokens N` (F or I above 0) it answers at a model's pace
// (test/harness/fake-llm-upstream.ts UpstreamPace); without, at once. It keeps no record of the requests it served.
import { parseArgs } from 'node:util';
import { startFakeLlmUpstream } from '../../test/harness/fake-llm-upstream';

const { values } = parseArgs({ options: { 'first-token-ms': { type: 'string' }, jitter: { type: 'string' }, 'token-interval-ms': { type: 'string' }, tokens: { type: 'string' } }, strict: true });
const firstTokenMs = Number(values['first-token-ms'] ?? 0);
const tokenIntervalMs = Number(values['token-interval-ms'] ?? 0);
const tokens = Number(values.tokens ?? 2);
const jitter = Number(values.jitter ?? 0);
const pace = firstTokenMs > 0 || tokenIntervalMs > 0 ? { firstTokenMs, jitter, tokenIntervalMs, tokens } : undefined;

startFakeLlmUpstream({ pace, record: false }).then(
  (upstream) => process.stdout.write(`${upstream.url}\n`),
  (err: unknown) => {
    process.stderr.write(`fake upstream failed: ${String(err)}\n`);
    process.exit(1);
  },
);
