import assert from "node:assert/strict";
import { outputLimitFromError } from "../../../lib/output_limits.ts";
import { openaiProvider } from "../../../lib/providers/openai.ts";

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
    assert.deepEqual(outputLimitFromError(openaiProvider, message), hint, message);
  }
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
    assert.deepEqual(outputLimitFromError(openaiProvider, message, 80_000), hint, message);
  }
});
