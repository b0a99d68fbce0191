// The fake OpenAI/Anthropic upstream of the tests (test/harness/fake-llm-upstream.ts) as its own process, for
// bench/proxy.ts: it prints its URL on the first line and serves until it is killed.
import { startFakeLlmUpstream } from '../../test/harness/fake-llm-upstream';

startFakeLlmUpstream().then(
  (upstream) => process.stdout.write(`${upstream.url}\n`),
  (err: unknown) => {
    process.stderr.write(`fake upstream failed: ${String(err)}\n`);
    process.exit(1);
  },
);
