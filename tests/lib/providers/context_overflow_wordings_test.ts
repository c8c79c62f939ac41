import assert from "node:assert/strict";
import { promptTooLong } from "../../../lib/context_overflow.ts";
import { openaiProvider } from "../../../lib/providers/openai.ts";

Deno.test("context overflow: each upstream's wording is said as Anthropic says it", () => {
  const cases: Array<[string, string | undefined]> = [
    [
      "This model's maximum context length is 128000 tokens. However, your messages resulted in 130512 tokens. Please reduce the length of the messages.",
      "prompt is too long: 130512 tokens > 128000 maximum",
    ],
    [
      "This model's maximum context length is 65536 tokens. However, you requested 70000 tokens (70000 in the messages, 0 in the completion).",
      "prompt is too long: 70000 tokens > 65536 maximum",
    ],
    [
      "'max_tokens' or 'max_completion_tokens' is too large: 64000. This model's maximum context length is 32768 tokens and your request has 40000 input tokens (64000 > 32768 - 40000).",
      "prompt is too long: 40000 tokens > 32768 maximum",
    ],
    [
      "Input tokens exceed the configured limit of 272000 tokens. Your messages resulted in 300001 tokens.",
      "prompt is too long: 300001 tokens > 272000 maximum",
    ],
    [
      "The input token count (2000000) exceeds the maximum number of tokens allowed (1048576).",
      "prompt is too long: 2000000 tokens > 1048576 maximum",
    ],
    ["the request exceeds the available context size, try increasing it", "prompt is too long"],
    // LM Studio
    [
      "Trying to keep the first 19006 tokens when context the overflows. However, the model is loaded with context length of only 8192 tokens, which is not enough. Try to load the model with a larger context length, or provide a shorter input",
      "prompt is too long: 19006 tokens > 8192 maximum",
    ],
    // vLLM 0.9, a prompt alone over the window
    [
      "This model's maximum context length is 32768 tokens. However, you requested 32818 tokens in the messages, Please reduce the length of the messages.",
      "prompt is too long: 32818 tokens > 32768 maximum",
    ],
    // Recent vLLM: exact, counted only up to the window, and counted in characters
    [
      "This model's maximum context length is 8192 tokens. However, you requested 64 output tokens and your prompt contains 10000 input tokens, for a total of 10064 tokens. Please reduce the length of the input prompt or the number of requested output tokens.",
      "prompt is too long: 10000 tokens > 8192 maximum",
    ],
    [
      "This model's maximum context length is 32768 tokens. However, you requested 0 output tokens and your prompt contains at least 32769 input tokens, for a total of at least 32769 tokens. Please reduce the length of the input prompt or the number of requested output tokens. (parameter=input_tokens, value=32769)",
      "prompt is too long",
    ],
    [
      "This model's maximum context length is 40960 tokens. However, you requested 64000 output tokens and your prompt contains 300000 characters (more than 0 characters, which is the upper bound for 0 input tokens). Please reduce the length of the input prompt or the number of requested output tokens.",
      "prompt is too long",
    ],
    [
      "Input length (196905) exceeds model's maximum context length (196608).",
      "prompt is too long: 196905 tokens > 196608 maximum",
    ],
    [
      'This endpoint\'s maximum context length is 131072 tokens. However, you requested about 200000 tokens (126000 of text input, 10000 of tool input, 64000 in the output). Please reduce the length of either one, or use the "middle-out" transform to compress your prompt automatically.',
      "prompt is too long: 136000 tokens > 131072 maximum",
    ],
    // SGLang, its scheduler, llama.cpp with figures, TGI
    [
      "Requested token count exceeds the model's maximum context length of 40960 tokens. You requested a total of 107000 tokens: 43000 tokens from the input messages and 64000 tokens for the completion.",
      "prompt is too long: 43000 tokens > 40960 maximum",
    ],
    [
      "The input (50000 tokens) is longer than the model's context length (40960 tokens).",
      "prompt is too long: 50000 tokens > 40960 maximum",
    ],
    [
      "Input length (50000 tokens) exceeds the maximum allowed length (40960 tokens). Use a shorter input or enable --allow-auto-truncate.",
      "prompt is too long: 50000 tokens > 40960 maximum",
    ],
    [
      "request (50000 tokens) exceeds the available context size (40960 tokens), try increasing it",
      "prompt is too long: 50000 tokens > 40960 maximum",
    ],
    [
      "Input validation error: `inputs` must have less than 32768 tokens. Given: 40000",
      "prompt is too long: 40000 tokens > 32768 maximum",
    ],
    // Refusals that leave a smaller max_tokens room say nothing of an overflow by themselves:
    // they come here when the prompt, guessed from its length, fills the window.
    [
      "max_tokens=64000 cannot be greater than max_model_len=max_total_tokens=40960. Please request fewer output tokens.",
      "prompt is too long",
    ],
    [
      "You passed 40961 input tokens and requested 64000 output tokens. However, the model's context length is only 40960 tokens, resulting in a maximum input length of 0 tokens.",
      "prompt is too long",
    ],
    [
      "Requested token count exceeds the model's maximum context length of 40960 tokens. You requested a total of 83000 tokens: 19000 tokens from the input messages and 64000 tokens for the completion.",
      undefined,
    ],
    // A max_tokens refusal is not an overflow: the output limits retry it.
    [
      "This model's maximum context length is 32768 tokens. However, you requested 64100 tokens (100 in the messages, 64000 in the completion).",
      undefined,
    ],
    // Gemini without its figures' brackets, Vertex, Mistral.
    [
      "The input token count exceeds the maximum number of tokens allowed 1048576.",
      "prompt is too long",
    ],
    [
      "Unable to submit request because the input token count is 1200000 but model only supports up to 1048575. Reduce the input token count and try again.",
      "prompt is too long: 1200000 tokens > 1048575 maximum",
    ],
    [
      "Prompt contains 40000 tokens and 0 draft tokens, too large for model with 32768 maximum context length",
      "prompt is too long: 40000 tokens > 32768 maximum",
    ],
    ["prompt is too long: 210000 tokens > 200000 maximum", undefined],
    ["temperature must be at most 2", undefined],
  ];
  for (const [upstream, start] of cases) {
    const said = promptTooLong(openaiProvider, upstream);
    if (start === undefined) assert.equal(said, undefined, upstream);
    else {
      assert.ok(said?.startsWith(start + " (upstream: "), `${upstream} -> ${said}`);
      assert.ok(said!.endsWith(`${upstream})`));
    }
  }
});

Deno.test("context overflow: llama.cpp's figures, named apart from its words, are said too", () => {
  const body = JSON.stringify({
    error: {
      code: 400,
      message: "the request exceeds the available context size, try increasing it",
      type: "exceed_context_size_error",
      n_prompt_tokens: 50213,
      n_ctx: 40960,
    },
  });
  const failure = openaiProvider.parseError(400, body, new Headers());
  assert.equal(failure.keyFault, undefined);
  const said = promptTooLong(openaiProvider, failure.message);
  assert.ok(said?.startsWith("prompt is too long: 50213 tokens > 40960 maximum"), said);
});

Deno.test("context overflow: an OpenAI-style error that says so only by its code is an overflow too", () => {
  const body = JSON.stringify({
    error: {
      message: "Please reduce the length of the messages or completion.",
      type: "invalid_request_error",
      param: "messages",
      code: "context_length_exceeded",
    },
  });
  const failure = openaiProvider.parseError(400, body, new Headers());
  assert.equal(failure.status, 400);
  assert.match(promptTooLong(openaiProvider, failure.message) ?? "", /^prompt is too long/);
});
