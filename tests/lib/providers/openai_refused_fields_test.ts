import assert from "node:assert/strict";
import { openaiRefusedFields } from "../../../lib/providers/openai_refused_fields.ts";

Deno.test("openaiRefusedFields reads the optional parameters a server names as refused", () => {
  const cases: Array<[string, string[]]> = [
    ["`reasoning_effort` is not supported with this model", ["reasoning_effort"]],
    ["Unsupported parameter: 'reasoning_effort' is not supported with this model.", [
      "reasoning_effort",
    ]],
    ["Unrecognized request argument supplied: top_k", ["top_k"]],
    ["body.stream_options: Extra inputs are not permitted", ["stream_options"]],
    ['property "parallel_tool_calls" is unsupported', ["parallel_tool_calls"]],
    [
      "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
      ["max_tokens"],
    ],
    ["Unrecognized request argument supplied: max_completion_tokens", ["max_completion_tokens"]],
    // Ollama, for a model that cannot think, refuses the `think` it makes of reasoning_effort.
    ['"llama3.2" does not support thinking', ["reasoning_effort"]],
    // Ollama, for a model that thinks only on or off, refuses a level.
    ['think value "high" is not supported for this model', ["reasoning_effort"]],
    // Structured output by schema: DeepSeek, TGI before it took schemas.
    ["This response_format type is unavailable now", ["(json mode)"]],
    [
      "Failed to deserialize the JSON body into the target type: response_format: unknown variant `json_schema`, expected `json` or `regex`",
      ["(json mode)"],
    ],
    // xAI's reasoning models, naming the parameter in camelCase.
    ["Model grok-4-0709 does not support parameter reasoningEffort.", ["reasoning_effort"]],
    ["Model grok-4-0709 does not support parameter stop.", ["stop"]],
    // More functions than the server takes: a limit, not a field.
    [
      "Invalid 'tools': array too long. Expected an array with maximum length 128, but got an array with length 176 instead.",
      ["(tool limit 128)"],
    ],
    ["This server supports a maximum of 64 tools", ["(tool limit 64)"]],
    // Groq's Qwen3 models take only their own two values.
    ["`reasoning_effort` must be one of `none` or `default`", ["reasoning_effort"]],
    [
      "Model grok-4-fast-reasoning does not support parameter presencePenalty.",
      undefined as unknown as string[],
    ],
  ];
  for (const [message, fields] of cases) assert.deepEqual(openaiRefusedFields(message), fields);
});

Deno.test("openaiRefusedFields ignores a field merely mentioned, and what is not a refusal", () => {
  for (
    const message of [
      "This model's maximum context length is 128000 tokens.",
      "Unknown stop reason from the model",
      "temperature must be between 0 and 2",
      "messages.1.role must be one of system, user, assistant, tool",
      "Invalid value for 'tool_choice': unsupported",
      "The 'user' role is not supported after a tool message",
      // A parameter the proxy never adds.
      "Model grok-4-fast-reasoning does not support parameter presencePenalty.",
    ]
  ) {
    assert.equal(openaiRefusedFields(message), undefined, message);
  }
});
