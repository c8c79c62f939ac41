import assert from "node:assert/strict";
import { limitOf, outputLimitFromError, OutputLimits } from "../../lib/output_limits.ts";
import { openaiProvider } from "../../lib/providers/openai.ts";

Deno.test("output limits: current vLLM, which counts a prompt only up to its window, is retried within it", () => {
  const window = "This model's maximum context length is 40960 tokens. However, you requested";
  const tail =
    "Please reduce the length of the input prompt or the number of requested output tokens.";
  // Claude Code's 64000 leaves the prompt no room: vLLM names its characters, not its tokens.
  const chars =
    `${window} 64000 output tokens and your prompt contains 76000 characters (more than 0 characters, which is the upper bound for 0 input tokens). ${tail} (parameter=input_text, value=76000)`;
  // Guessed at four characters a token from the request's own length.
  assert.deepEqual(outputLimitFromError(openaiProvider, chars, 76_000), {
    context: 40960,
    prompt: 19000,
  });
  // Refused again within that guess, the next guess is denser: three a token.
  assert.deepEqual(outputLimitFromError(openaiProvider, chars, 76_000, 1), {
    context: 40960,
    prompt: 25334,
  });
  // A request the window cannot hold is no output limit: it is the prompt that is too long.
  assert.equal(outputLimitFromError(openaiProvider, chars, 200_000), undefined);
  // Within the window it counts only so far: "at least" is a floor, the guess says more.
  const least =
    `${window} 20000 output tokens and your prompt contains at least 20961 input tokens, for a total of at least 40961 tokens. ${tail}`;
  assert.deepEqual(outputLimitFromError(openaiProvider, least, 100_000), {
    context: 40960,
    prompt: 25000,
  });
  // Refused within the first guess, a prompt the denser one fills the window with is put half way
  // between the floor the refusal named and the window.
  const again = least.replace("20000 output", "8260 output").replace("20961", "32701");
  assert.deepEqual(outputLimitFromError(openaiProvider, again, 131_000, 1), {
    context: 40960,
    prompt: 36831,
  });
  // A floor past the guess (a dense prompt) is taken with a tenth more.
  assert.deepEqual(outputLimitFromError(openaiProvider, least, 4_000), {
    context: 40960,
    prompt: 23058,
  });
  // Its exact form names the prompt.
  const exact =
    `${window} 64000 output tokens and your prompt contains 19000 input tokens, for a total of 83000 tokens. ${tail}`;
  assert.deepEqual(outputLimitFromError(openaiProvider, exact, 1_000_000), {
    context: 40960,
    prompt: 19000,
  });
  assert.equal(
    outputLimitFromError(openaiProvider, exact.replace("19000 input", "50000 input"), 10),
    undefined,
  );
});

Deno.test("output limits: a context window leaves each request what its own prompt does not use", () => {
  const limits = new OutputLimits();
  const hint = outputLimitFromError(
    openaiProvider,
    "This model's maximum context length is 32768 tokens and your request has 20000 input tokens (64000 > 32768 - 20000). 'max_tokens' is too large",
  )!;
  assert.equal(limitOf(hint), 12768);
  // The refused request had 80000 characters: four a token.
  limits.learn("vllm", "qwen", hint, 80_000);
  // A long conversation's refusal does not shrink a short one's answers.
  const short = limits.capFor("vllm", "qwen", 40)!;
  assert.ok(short > 32_700 && short < 32_768, String(short));
  // A request as long as the refused one is guessed a little denser, so it fits at once.
  const same = limits.capFor("vllm", "qwen", 80_000)!;
  assert.ok(same < 12768 && same > 11000, String(same));
  assert.equal(limits.capFor("vllm", "qwen", 140_000), undefined);
  assert.equal(limits.capFor("vllm", "other", 40), undefined);
  limits.learn("deepseek", "chat", { output: 8192 }, 140_000);
  assert.equal(limits.capFor("deepseek", "chat", 1_000_000), 8192);
});

Deno.test("output limits: a huge error message is read in bounded time, not for seconds", () => {
  // Every 400 an upstream sends is read for a limit, whatever its length.
  const message = "maximum context length is 1 tokens".repeat(20_000);
  const started = performance.now();
  assert.equal(outputLimitFromError(openaiProvider, message), undefined);
  const ms = performance.now() - started;
  assert.ok(ms < 500, `took ${Math.round(ms)} ms`);
});
