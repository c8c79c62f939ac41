import assert from "node:assert/strict";
import { limitOf, outputLimitFromError, OutputLimits } from "../../lib/output_limits.ts";

Deno.test("output limits: the limit named in each upstream's max_tokens error is read", () => {
  const cases: Array<[string, ReturnType<typeof outputLimitFromError>]> = [
    ["Invalid max_tokens value, the valid range of max_tokens is [1, 8192]", { output: 8192 }],
    [
      "max_tokens is too large: 64000. This model supports at most 16384 completion tokens, whereas you provided 64000.",
      { output: 16384 },
    ],
    [
      "max_tokens: 64000 > 32000, which is the maximum allowed number of output tokens for claude-x",
      { output: 32000 },
    ],
    [
      "`max_tokens` must be less than or equal to `32768`, the maximum value for `max_tokens`",
      { output: 32768 },
    ],
    [
      "This model's maximum context length is 32768 tokens. However, you requested 64100 tokens (100 in the messages, 64000 in the completion).",
      { context: 32768, prompt: 100 },
    ],
    [
      "'max_tokens' or 'max_completion_tokens' is too large: 64000. This model's maximum context length is 32768 tokens and your request has 1234 input tokens (64000 > 32768 - 1234).",
      { context: 32768, prompt: 1234 },
    ],
    [
      "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.",
      undefined,
    ],
    [
      "'max_tokens' or 'max_completion_tokens' is too large: 64000. This model's maximum context length is 32768 tokens and your request has 40000 input tokens (64000 > 32768 - 40000).",
      undefined,
    ],
    [
      "Unable to submit request because it has a maxOutputTokens value of 32000 but the supported range is from 1 (inclusive) to 8193 (exclusive). Update the value and try again.",
      { output: 8192 },
    ],
    ["The value of max_output_tokens (64000) exceeds the maximum allowed (8192).", {
      output: 8192,
    }],
    [
      "The input token count (2000000) exceeds the maximum number of tokens allowed (1048576).",
      undefined,
    ],
    ["temperature must be less than or equal to 2", undefined],
    [
      "Unable to submit request because it has a topK value of 100 but the supported range is from 1 (inclusive) to 41 (exclusive). Update the value and try again.",
      undefined,
    ],
    ["Invalid API key", undefined],
  ];
  for (const [message, hint] of cases) {
    assert.deepEqual(outputLimitFromError(message), hint, message);
  }
});

Deno.test("output limits: current vLLM, which counts a prompt only up to its window, is retried within it", () => {
  const window = "This model's maximum context length is 40960 tokens. However, you requested";
  const tail =
    "Please reduce the length of the input prompt or the number of requested output tokens.";
  // Claude Code's 64000 leaves the prompt no room: vLLM names its characters, not its tokens.
  const chars =
    `${window} 64000 output tokens and your prompt contains 76000 characters (more than 0 characters, which is the upper bound for 0 input tokens). ${tail} (parameter=input_text, value=76000)`;
  // Guessed at four characters a token from the request's own length.
  assert.deepEqual(outputLimitFromError(chars, 76_000), { context: 40960, prompt: 19000 });
  // Refused again within that guess, the next guess is denser: three a token.
  assert.deepEqual(outputLimitFromError(chars, 76_000, 1), { context: 40960, prompt: 25334 });
  // A request the window cannot hold is no output limit: it is the prompt that is too long.
  assert.equal(outputLimitFromError(chars, 200_000), undefined);
  // Within the window it counts only so far: "at least" is a floor, the guess says more.
  const least =
    `${window} 20000 output tokens and your prompt contains at least 20961 input tokens, for a total of at least 40961 tokens. ${tail}`;
  assert.deepEqual(outputLimitFromError(least, 100_000), { context: 40960, prompt: 25000 });
  // Refused within the first guess, a prompt the denser one fills the window with is put half way
  // between the floor the refusal named and the window.
  const again = least.replace("20000 output", "8260 output").replace("20961", "32701");
  assert.deepEqual(outputLimitFromError(again, 131_000, 1), { context: 40960, prompt: 36831 });
  // A floor past the guess (a dense prompt) is taken with a tenth more.
  assert.deepEqual(outputLimitFromError(least, 4_000), { context: 40960, prompt: 23058 });
  // Its exact form names the prompt.
  const exact =
    `${window} 64000 output tokens and your prompt contains 19000 input tokens, for a total of 83000 tokens. ${tail}`;
  assert.deepEqual(outputLimitFromError(exact, 1_000_000), { context: 40960, prompt: 19000 });
  assert.equal(outputLimitFromError(exact.replace("19000 input", "50000 input"), 10), undefined);
});

Deno.test("output limits: SGLang's, TGI's, OpenRouter's and earlier vLLM's window refusals are retried within the window", () => {
  const cases: Array<[string, ReturnType<typeof outputLimitFromError>]> = [
    [
      "Requested token count exceeds the model's maximum context length of 40960 tokens. You requested a total of 83000 tokens: 19000 tokens from the input messages and 64000 tokens for the completion.",
      { context: 40960, prompt: 19000 },
    ],
    [
      "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 32768. Given: 19000 `inputs` tokens and 64000 `max_new_tokens`",
      { context: 32768, prompt: 19000 },
    ],
    // Over the whole window (vLLM, TensorRT-LLM): the prompt is guessed from the request's length.
    [
      "max_tokens=64000 cannot be greater than max_model_len=max_total_tokens=40960. Please request fewer output tokens.",
      { context: 40960, prompt: 20000 },
    ],
    // vLLM 0.16 and 0.17 name a floor, or the prompt's characters.
    [
      "You passed 76000 input characters and requested 64000 output tokens. However, the model's context length is only 40960 tokens, resulting in a maximum input length of 0 tokens.",
      { context: 40960, prompt: 20000 },
    ],
    [
      "You passed 20961 input tokens and requested 20000 output tokens. However, the model's context length is only 40960 tokens, resulting in a maximum input length of 20960 tokens.",
      { context: 40960, prompt: 23058 },
    ],
    // OpenRouter adds up its inputs.
    [
      'This endpoint\'s maximum context length is 131072 tokens. However, you requested about 150000 tokens (76000 of text input, 10000 of tool input, 64000 in the output). Please reduce the length of either one, or use the "middle-out" transform to compress your prompt automatically.',
      { context: 131072, prompt: 86000 },
    ],
    // A prompt over the window is no output limit.
    [
      "Requested token count exceeds the model's maximum context length of 40960 tokens. You requested a total of 107000 tokens: 43000 tokens from the input messages and 64000 tokens for the completion.",
      undefined,
    ],
  ];
  for (const [message, hint] of cases) {
    assert.deepEqual(outputLimitFromError(message, 80_000), hint, message);
  }
});

Deno.test("output limits: a context window leaves each request what its own prompt does not use", () => {
  const limits = new OutputLimits();
  const hint = outputLimitFromError(
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
  assert.equal(outputLimitFromError(message), undefined);
  const ms = performance.now() - started;
  assert.ok(ms < 500, `took ${Math.round(ms)} ms`);
});
