// A strict fake of OpenAI's Chat Completions endpoint: it rejects what the real API rejects, so
// end-to-end tests catch requests that would fail in production, and it replays scripted answers.

// deno-lint-ignore-file no-explicit-any

export interface RecordedRequest {
  path: string;
  headers: Headers;
  body: any;
  /** The client's port: requests on one kept-alive connection share it. */
  clientPort: number;
}

export type FakeReply =
  | {
    status: number;
    json?: unknown;
    text?: string;
    headers?: Record<string, string>;
    /** Answers only after this long: an upstream slow to send even its headers. */
    headersAfterMs?: number;
  }
  | {
    sse: string[];
    delayMs?: number;
    headersAfterMs?: number;
    headers?: Record<string, string>;
    /** After the chunks, neither [DONE] nor the body's end: open until the client leaves. */
    thenHang?: boolean;
  }
  | { hang: true }
  | { resetAfterChunks: number; sse: string[] };

export interface FakeUpstream {
  url: string;
  requests: RecordedRequest[];
  enqueue(...replies: FakeReply[]): void;
  close(): Promise<void>;
}

export const OPENAI_DONE = "data: [DONE]\n\n";
export const FAKE_MODEL = "gpt-fake";
const CHUNK_ID = "chatcmpl-BfAkE0pEnAi1chunk5tream";
const CREATED = 1767225600;

/** A usage object as the API reports it, details included. */
export function openaiUsage(prompt: number, completion: number, cached = 0, reasoning = 0) {
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: reasoning,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

/** One raw SSE chunk (`data: {...}\n\n`) carrying `delta` for choice 0. */
export function openaiChunk(
  delta: Record<string, unknown>,
  finishReason: string | null = null,
  options: { id?: string; model?: string } = {},
): string {
  return `data: ${
    JSON.stringify({
      id: options.id ?? CHUNK_ID,
      object: "chat.completion.chunk",
      created: CREATED,
      model: options.model ?? FAKE_MODEL,
      service_tier: "default",
      system_fingerprint: "fp_fake0001",
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
      usage: null,
    })
  }\n\n`;
}

/** The final usage-only chunk sent with `stream_options.include_usage`. */
export function openaiUsageChunk(
  usage: unknown,
  options: { id?: string; model?: string } = {},
): string {
  return `data: ${
    JSON.stringify({
      id: options.id ?? CHUNK_ID,
      object: "chat.completion.chunk",
      created: CREATED,
      model: options.model ?? FAKE_MODEL,
      service_tier: "default",
      system_fingerprint: "fp_fake0001",
      choices: [],
      usage,
    })
  }\n\n`;
}

/** A non-streaming `chat.completion` body. */
export function openaiCompletion(
  message: Record<string, unknown>,
  finishReason: string,
  usage: unknown,
  model = FAKE_MODEL,
) {
  return {
    id: `chatcmpl-${randomAlnum(29)}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{
      index: 0,
      message: { role: "assistant", content: null, refusal: null, annotations: [], ...message },
      logprobs: null,
      finish_reason: finishReason,
    }],
    usage,
    service_tier: "default",
    system_fingerprint: "fp_fake0001",
  };
}

/** An OpenAI-shaped error body. */
export function openaiError(
  message: string,
  type = "invalid_request_error",
  code: string | null = null,
  param: string | null = null,
) {
  return { error: { message, type, param, code } };
}

function randomAlnum(length: number): string {
  const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  let out = "";
  for (const b of crypto.getRandomValues(new Uint8Array(length))) out += alphabet[b % 62];
  return out;
}

// ---------------------------------------------------------------------------------------------
// Validation, after the real API's rules and wording

const TOP_LEVEL = new Set([
  "model",
  "messages",
  "audio",
  "frequency_penalty",
  "function_call",
  "functions",
  "logit_bias",
  "logprobs",
  "max_completion_tokens",
  "max_tokens",
  "metadata",
  "modalities",
  "n",
  "parallel_tool_calls",
  "prediction",
  "presence_penalty",
  "prompt_cache_key",
  "prompt_cache_retention",
  "reasoning_effort",
  "response_format",
  "safety_identifier",
  "seed",
  "service_tier",
  "stop",
  "store",
  "stream",
  "stream_options",
  "temperature",
  "tool_choice",
  "tools",
  "top_logprobs",
  "top_p",
  "user",
  "verbosity",
  "web_search_options",
]);
/** Sampling settings vLLM, llama.cpp and Ollama take beyond OpenAI's. */
const TEMPLATE_SERVER_PARAMS = new Set(["top_k", "min_p", "repetition_penalty"]);
const ROLES = new Set(["system", "developer", "user", "assistant", "tool"]);
const USER_PARTS = new Set(["text", "image_url", "file", "input_audio"]);
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

class Invalid extends Error {
  constructor(
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

function findKey(value: unknown, key: string, path: string): string | null {
  if (!value || typeof value !== "object") return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = findKey(value[i], key, `${path}[${i}]`);
      if (hit) return hit;
    }
    return null;
  }
  for (const [k, v] of Object.entries(value)) {
    if (k === key) return path;
    const hit = findKey(v, key, path ? `${path}.${k}` : k);
    if (hit) return hit;
  }
  return null;
}

function checkTextParts(content: unknown, where: string, allowed: Set<string>): void {
  if (typeof content === "string") return;
  if (!Array.isArray(content)) {
    throw new Invalid(
      `Invalid type for '${where}': expected one of a string or array of objects.`,
      where,
      "invalid_type",
    );
  }
  content.forEach((part: any, i) => {
    const at = `${where}[${i}]`;
    if (!allowed.has(part?.type)) {
      throw new Invalid(
        `Invalid value: '${part?.type}'. Supported values are: ${
          [...allowed].map((t) => `'${t}'`).join(", ")
        }.`,
        `${at}.type`,
        "invalid_value",
      );
    }
    if (part.type === "text" && typeof part.text !== "string") {
      throw new Invalid(
        `Missing required parameter: '${at}.text'.`,
        `${at}.text`,
        "missing_required_parameter",
      );
    }
    if (part.type === "image_url" && typeof part.image_url?.url !== "string") {
      throw new Invalid(
        `Missing required parameter: '${at}.image_url.url'.`,
        `${at}.image_url.url`,
        "missing_required_parameter",
      );
    }
    if (part.type === "file" && !part.file?.file_data && !part.file?.file_id) {
      throw new Invalid(
        `Missing required parameter: '${at}.file.file_data'.`,
        `${at}.file`,
        "missing_required_parameter",
      );
    }
  });
}

function checkMessages(messages: any[]): void {
  // Ids of the last assistant tool_calls still waiting for their tool messages.
  let open: Set<string> | null = null;
  messages.forEach((m: any, i) => {
    const at = `messages[${i}]`;
    if (!m || typeof m !== "object") {
      throw new Invalid(`Invalid type for '${at}': expected an object.`, at, "invalid_type");
    }
    if (!ROLES.has(m.role)) {
      throw new Invalid(
        `Invalid value: '${m.role}'. Supported values are: 'system', 'assistant', 'user', 'tool', and 'developer'.`,
        `${at}.role`,
        "invalid_value",
      );
    }
    if (m.role === "tool") {
      if (!open || !open.has(m.tool_call_id)) {
        throw new Invalid(
          "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
          `${at}.role`,
        );
      }
      open.delete(m.tool_call_id);
      checkTextParts(m.content, `${at}.content`, new Set(["text"]));
      return;
    }
    if (open && open.size) {
      throw new Invalid(
        `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${
          [...open].join(", ")
        }`,
        "messages",
      );
    }
    open = null;
    if (m.role === "user") checkTextParts(m.content, `${at}.content`, USER_PARTS);
    else if (m.role === "system" || m.role === "developer") {
      checkTextParts(m.content, `${at}.content`, new Set(["text"]));
    } else {
      const calls = m.tool_calls;
      if (calls !== undefined) {
        if (!Array.isArray(calls) || !calls.length) {
          throw new Invalid(
            `Invalid 'messages[${i}].tool_calls': empty array.`,
            `${at}.tool_calls`,
            "empty_array",
          );
        }
        open = new Set();
        calls.forEach((c: any, j: number) => {
          const cat = `${at}.tool_calls[${j}]`;
          if (typeof c?.id !== "string" || !c.id) {
            throw new Invalid(
              `Missing required parameter: '${cat}.id'.`,
              `${cat}.id`,
              "missing_required_parameter",
            );
          }
          if (c.id.length > 40) {
            throw new Invalid(
              `Invalid '${cat}.id': string too long. Expected a string with maximum length 40, but got a string with length ${c.id.length} instead.`,
              `${cat}.id`,
              "string_above_max_length",
            );
          }
          if (
            c.type !== "function" || typeof c.function?.name !== "string" ||
            typeof c.function?.arguments !== "string"
          ) {
            throw new Invalid(
              `Invalid '${cat}': expected a function call with a name and string arguments.`,
              cat,
            );
          }
          open!.add(c.id);
        });
      }
      if ((m.content === undefined || m.content === null) && calls === undefined) {
        throw new Invalid(
          `Invalid value for '${at}.content': expected a string, got null.`,
          `${at}.content`,
          "invalid_type",
        );
      }
      if (m.content !== null && m.content !== undefined) {
        checkTextParts(m.content, `${at}.content`, new Set(["text", "refusal"]));
      }
    }
  });
  if (open && (open as Set<string>).size) {
    throw new Invalid(
      `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${
        [...(open as Set<string>)].join(", ")
      }`,
      "messages",
    );
  }
}

/** What a compatible server refuses beyond what api.openai.com does. */
export interface CompatRules {
  /**
   * The chat templates of vLLM, llama.cpp and Ollama models (Qwen, Llama, Gemma, Mistral): a
   * system message only first, user and assistant alternating, no file parts.
   */
  strictTemplate?: boolean;
  /** Groq and Cerebras: no `reasoning_content` on assistant messages. */
  rejectReasoningContent?: boolean;
  /**
   * Which stop string ended the answer, where the server says it: vLLM's `stop_reason`, SGLang's
   * `matched_stop` on the choice. OpenAI itself does not say.
   */
  reportsStop?: "stop_reason" | "matched_stop";
  /**
   * mistral-common's checks, made by Mistral's API and by vLLM serving a Mistral model: tool call
   * ids of exactly 9 letters and digits, and no user message straight after a tool message.
   */
  mistral?: boolean;
  /** api.mistral.ai: a field outside its own list is a 422 (`extra_forbidden`), OpenAI's too. */
  mistralApi?: boolean;
  /**
   * Moonshot's Kimi K2.5/K2.6 with thinking on (the default): every assistant message with
   * tool calls must carry `reasoning_content`.
   */
  toolCallReasoning?: boolean;
  /**
   * DeepSeek: `response_format` is `text` or `json_object`, the latter with "json" in the prompt;
   * its `thinking` switch (`{"type":"enabled"|"disabled"}`) is taken.
   */
  jsonObjectOnly?: boolean;
  /** LM Studio: `response_format` is `json_schema` or `text`, never `json_object`. */
  jsonSchemaOnly?: boolean;
  /**
   * Gemini 3 through OpenRouter: each assistant turn with tool calls carries back the
   * `reasoning_details` its answer gave, the encrypted thought signature among them.
   */
  reasoningDetails?: boolean;
  /**
   * vLLM's max_model_len, shared by the prompt (counted here as its JSON over four) and
   * max_tokens, refused as recent vLLM words it: max_tokens over the window by itself, else it
   * counts the prompt only as far as the window, so it names a lower bound or its characters.
   */
  contextWindow?: number;
  /** llama.cpp serving a model without its multimodal projector: an image is a 500. */
  textOnly?: boolean;
  /**
   * Gemini 3 on Google's OpenAI endpoint: the first tool call of each assistant turn carries
   * `extra_content.google.thought_signature` back, one it issued or Google's skip value.
   */
  thoughtSignatures?: Set<string>;
}

/** The top-level fields api.mistral.ai takes; any other is refused. */
const MISTRAL_FIELDS = new Set([
  "model",
  "messages",
  "temperature",
  "top_p",
  "max_tokens",
  "stream",
  "stop",
  "random_seed",
  "response_format",
  "tools",
  "tool_choice",
  "presence_penalty",
  "frequency_penalty",
  "n",
  "prediction",
  "parallel_tool_calls",
  "prompt_mode",
  "safe_prompt",
]);

/** Mistral's 422 for fields it does not know, as its API words it. */
export function mistralExtraForbidden(body: any): unknown | undefined {
  if (!body || typeof body !== "object") return undefined;
  const detail = Object.keys(body).filter((k) => !MISTRAL_FIELDS.has(k)).map((k) => ({
    type: "extra_forbidden",
    loc: ["body", k],
    msg: "Extra inputs are not permitted",
    input: body[k],
  }));
  if (!detail.length) return undefined;
  return {
    object: "error",
    message: { detail },
    type: "invalid_request_error",
    param: null,
    code: null,
  };
}

const MISTRAL_TOOL_ID = /^[a-zA-Z0-9]{9}$/;

function checkMistralId(id: unknown): void {
  if (typeof id === "string" && MISTRAL_TOOL_ID.test(id)) return;
  throw new Invalid(
    `Tool call id was ${id} but must be a-z, A-Z, 0-9, with a length of 9.`,
    null,
    "3280",
  );
}

/** Characters a token vLLM assumes at most, before it counts a prompt's tokens. */
const VLLM_MAX_CHARS_PER_TOKEN = 10;

/** The message current vLLM refuses a request with that does not fit its window, if any. */
export function vllmWindowRefusal(body: any, window: number): string | undefined {
  const chars = JSON.stringify([body.messages, body.tools ?? null]).length;
  const prompt = Math.ceil(chars / 4);
  const asked = body.max_completion_tokens ?? body.max_tokens ?? Math.max(0, window - prompt);
  if (asked > window) {
    return `max_tokens=${asked} cannot be greater than max_model_len=max_total_tokens=${window}. Please request fewer output tokens.`;
  }
  const room = window - asked;
  const head =
    `This model's maximum context length is ${window} tokens. However, you requested ${asked} output tokens and your prompt contains`;
  const tail =
    "Please reduce the length of the input prompt or the number of requested output tokens.";
  if (chars > room * VLLM_MAX_CHARS_PER_TOKEN) {
    return `${head} ${chars} characters (more than ${
      room * VLLM_MAX_CHARS_PER_TOKEN
    } characters, which is the upper bound for ${room} input tokens). ${tail} (parameter=input_text, value=${chars})`;
  }
  if (prompt > room) {
    return `${head} at least ${room + 1} input tokens, for a total of at least ${
      window + 1
    } tokens. ${tail} (parameter=input_tokens, value=${room + 1})`;
  }
  return undefined;
}

/** Where an array schema names no `items`, as OpenAI's validator words the place; or null. */
function arrayWithoutItems(schema: any, path: string[]): string | null {
  if (!schema || typeof schema !== "object" || Array.isArray(schema)) return null;
  const type = schema.type;
  if (
    (type === "array" || (Array.isArray(type) && type.includes("array"))) && !("items" in schema)
  ) {
    return path.map((p) => `'${p}'`).join(", ");
  }
  for (const k of ["properties", "$defs", "definitions"]) {
    for (const [name, sub] of Object.entries(schema[k] ?? {})) {
      const at = arrayWithoutItems(sub, [...path, k, name]);
      if (at !== null) return at;
    }
  }
  for (const k of ["items", "additionalProperties"]) {
    const at = arrayWithoutItems(schema[k], [...path, k]);
    if (at !== null) return at;
  }
  for (const k of ["anyOf", "oneOf", "allOf"]) {
    for (const [n, sub] of (Array.isArray(schema[k]) ? schema[k] : []).entries()) {
      const at = arrayWithoutItems(sub, [...path, k, String(n)]);
      if (at !== null) return at;
    }
  }
  return null;
}

function checkCompat(messages: any[], rules: CompatRules): void {
  const last = messages[messages.length - 1];
  if (
    rules.mistral && !(last?.role === "user" || last?.role === "tool" ||
      (last?.role === "assistant" && last.prefix === true))
  ) {
    throw new Invalid(
      `Expected last role User or Tool (or Assistant with prefix True) for serving but got ${last?.role}`,
      null,
      "3230",
    );
  }
  messages.forEach((m: any, i) => {
    const at = `messages[${i}]`;
    if (rules.mistral) {
      if (m.role === "tool") checkMistralId(m.tool_call_id);
      if (m.role === "assistant") { for (const c of m.tool_calls ?? []) checkMistralId(c?.id); }
      const before = messages[i - 1]?.role;
      if (before === "tool" && m.role !== "tool" && m.role !== "assistant") {
        throw new Invalid(`Unexpected role '${m.role}' after role 'tool'`, null, "3230");
      }
    }
    if (
      rules.toolCallReasoning && m.role === "assistant" && m.tool_calls?.length &&
      typeof m.reasoning_content !== "string"
    ) {
      throw new Invalid(
        `thinking is enabled but reasoning_content is missing in assistant tool call message at index ${i}`,
      );
    }
    if (rules.thoughtSignatures && m.role === "assistant" && m.tool_calls?.length) {
      const signature = m.tool_calls[0]?.extra_content?.google?.thought_signature;
      if (
        signature !== "skip_thought_signature_validator" && !rules.thoughtSignatures.has(signature)
      ) {
        throw new Invalid(
          `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call \`default_api:${
            m.tool_calls[0]?.function?.name
          }\` , position ${
            i + 1
          }. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.`,
        );
      }
    }
    if (
      rules.reasoningDetails && m.role === "assistant" && m.tool_calls?.length &&
      !m.reasoning_details?.some((d: any) => d?.type === "reasoning.encrypted" && d.data)
    ) {
      throw new Invalid(
        "Provider returned error: Gemini models require OpenRouter reasoning details to be preserved in each request",
      );
    }
    if (rules.rejectReasoningContent && m.role === "assistant" && "reasoning_content" in m) {
      throw new Invalid(
        `'${at}' : for 'role:assistant' the following must be satisfied[('${at}.reasoning_content' : property 'reasoning_content' is unsupported)]`,
        `${at}.reasoning_content`,
      );
    }
    if (!rules.strictTemplate) return;
    if (m.role === "system" && i > 0) {
      throw new Invalid("System message must be at the beginning.", at);
    }
    const prev = messages[i - 1]?.role;
    if ((m.role === "user" || m.role === "assistant") && prev === m.role) {
      throw new Invalid(
        "Conversation roles must alternate user/assistant/user/assistant/...",
        at,
      );
    }
    if (Array.isArray(m.content) && m.content.some((p: any) => p?.type === "file")) {
      throw new Invalid(`Unknown part type: file (${at}.content)`, `${at}.content`);
    }
  });
}

/** Throws `Invalid` for what api.openai.com (and, with `compat`, a stricter server) answers with a 400. */
export function validateChatRequest(body: any, compat: CompatRules = {}): void {
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    throw new Invalid("We could not parse the JSON body of your request.");
  }
  for (const key of Object.keys(body)) {
    if (compat.strictTemplate && TEMPLATE_SERVER_PARAMS.has(key)) continue;
    if (compat.jsonObjectOnly && key === "thinking") {
      const type = body.thinking?.type;
      if (type !== "enabled" && type !== "disabled") {
        throw new Invalid(`thinking.type must be "enabled" or "disabled", got ${type}`);
      }
      continue;
    }
    if (!TOP_LEVEL.has(key)) throw new Invalid(`Unrecognized request argument supplied: ${key}`);
  }
  const cache = findKey(body, "cache_control", "");
  if (cache !== null) {
    throw new Invalid(
      `Additional properties are not allowed ('cache_control' was unexpected) - '${cache}'`,
    );
  }
  if (typeof body.model !== "string" || !body.model) {
    throw new Invalid("you must provide a model parameter", "model", "missing_required_parameter");
  }
  if (body.messages === undefined) {
    throw new Invalid(
      "Missing required parameter: 'messages'.",
      "messages",
      "missing_required_parameter",
    );
  }
  if (!Array.isArray(body.messages) || !body.messages.length) {
    throw new Invalid(
      "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      "messages",
      "empty_array",
    );
  }
  if (Array.isArray(body.tools) && body.tools.length > 128) {
    throw new Invalid(
      `Invalid 'tools': array too long. Expected an array with maximum length 128, but got an array with length ${body.tools.length} instead.`,
      "tools",
      "array_above_max_length",
    );
  }
  if (body.web_search_options !== undefined && !/search/.test(body.model)) {
    throw new Invalid(
      "Web search options not supported with this model.",
      "web_search_options",
      "invalid_request_error",
    );
  }
  if (body.max_tokens !== undefined && body.max_completion_tokens !== undefined) {
    throw new Invalid(
      "max_tokens and max_completion_tokens cannot both be set; use max_completion_tokens.",
      "max_tokens",
    );
  }
  if (body.stream_options !== undefined && body.stream !== true) {
    throw new Invalid(
      "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
      "stream_options",
    );
  }
  if (body.tools !== undefined) {
    if (!Array.isArray(body.tools) || !body.tools.length) {
      throw new Invalid(
        "Invalid 'tools': empty array. Expected an array with minimum length 1, but got an empty array instead.",
        "tools",
        "empty_array",
      );
    }
    body.tools.forEach((t: any, i: number) => {
      const name = t?.function?.name;
      if (t?.type !== "function" || typeof name !== "string") {
        throw new Invalid(
          `Missing required parameter: 'tools[${i}].function'.`,
          `tools[${i}]`,
          "missing_required_parameter",
        );
      }
      if (!TOOL_NAME.test(name)) {
        throw new Invalid(
          `Invalid 'tools[${i}].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]{1,64}$'.`,
          `tools[${i}].function.name`,
          "invalid_value",
        );
      }
      const missing = arrayWithoutItems(t.function.parameters, []);
      if (missing) {
        throw new Invalid(
          `Invalid schema for function '${name}': In context=(${missing}), array schema missing items.`,
          `tools[${i}].function.parameters`,
          "invalid_function_parameters",
        );
      }
    });
    // A named choice must be one of the tools (OpenAI, vLLM's check_tool_usage, SGLang).
    const chosen = body.tool_choice?.function?.name;
    if (chosen !== undefined && !body.tools.some((t: any) => t.function.name === chosen)) {
      throw new Invalid(
        `Invalid value for 'tool_choice': function '${chosen}' is not one of the 'tools'.`,
        "tool_choice",
        "invalid_value",
      );
    }
  } else {
    if (body.tool_choice !== undefined) {
      throw new Invalid(
        "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
        "tool_choice",
      );
    }
    if (body.parallel_tool_calls !== undefined) {
      throw new Invalid(
        "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when 'tools' are specified.",
        "parallel_tool_calls",
      );
    }
  }
  // Reasoning models take no stop sequences at all.
  if (body.stop !== undefined && /^(?:o\d|gpt-5(?!-chat))/.test(String(body.model))) {
    throw new Invalid(
      "Unsupported parameter: 'stop' is not supported with this model.",
      "stop",
      "unsupported_parameter",
    );
  }
  if (Array.isArray(body.stop) && body.stop.length > 4) {
    throw new Invalid(
      `Invalid 'stop': array too long. Expected an array with maximum length 4.`,
      "stop",
      "array_above_max_length",
    );
  }
  if (typeof body.user === "string" && body.user.length > 64) {
    throw new Invalid(
      `Invalid 'user': string too long. Expected a string with maximum length 64, but got a string with length ${body.user.length} instead.`,
      "user",
      "string_above_max_length",
    );
  }
  checkMessages(body.messages);
  checkCompat(body.messages, compat);
  const format = body.response_format?.type;
  if (compat.jsonSchemaOnly && format !== undefined && format !== "text") {
    if (format !== "json_schema") {
      throw new Invalid("'response_format.type' must be 'json_schema' or 'text'", null, null);
    }
  }
  if (compat.jsonObjectOnly && format !== undefined) {
    if (format !== "text" && format !== "json_object") {
      throw new Invalid(
        "This response_format type is unavailable now",
        null,
        "invalid_request_error",
      );
    }
    if (format === "json_object" && !/json/i.test(JSON.stringify(body.messages))) {
      throw new Invalid(
        "Prompt must contain the word 'json' in some form to use 'response_format' of type 'json_object'.",
        null,
        "invalid_request_error",
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Default answers

function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((p: any) => (p?.type === "text" ? p.text : "")).join("\n");
  }
  return "";
}

type Answer = { text: string } | { tool: string; args: string };

const USE_TOOL = /use tool ([A-Za-z0-9_-]+) with (?:JSON\s*)?(\{[\s\S]*\})/;

function defaultAnswer(messages: any[], tools: unknown): Answer {
  // A model calls only the functions the request declares.
  const declared = (name: string) =>
    Array.isArray(tools) && tools.some((t: any) => t?.function?.name === name);
  const loading = toolLoaded(messages);
  if (loading && declared(loading[1])) return { tool: loading[1], args: loading[2] };
  const last = messages[messages.length - 1];
  if (last?.role === "tool") {
    return { text: `Tool result received: ${contentText(last.content).slice(0, 200)}` };
  }
  const lastUser = [...messages].reverse().find((m) => m?.role === "user");
  const asked = contentText(lastUser?.content);
  // Told not to (Claude Code's compaction request quotes the user's last words after it), a model
  // answers in text.
  if (/do not call any tools/i.test(asked)) return { text: "Summary of the conversation so far." };
  const match = USE_TOOL.exec(asked);
  if (match && declared(match[1])) return { tool: match[1], args: match[2] };
  // Asked for a tool it was not given, a model with a tool search (Claude Code's deferred tools)
  // loads it first.
  if (match && declared("ToolSearch")) {
    return { tool: "ToolSearch", args: JSON.stringify({ query: `select:${match[1]}` }) };
  }
  return { text: "Hello from fake OpenAI" };
}

/** After a ToolSearch call it made for a tool asked for, that tool and the arguments asked. */
function toolLoaded(messages: any[]): RegExpExecArray | null {
  let i = messages.length - 1;
  while (i >= 0 && messages[i]?.role !== "assistant") i--;
  const call = messages[i]?.tool_calls?.[0]?.function;
  if (call?.name !== "ToolSearch") return null;
  const prompt = messages.slice(0, i).reverse().find((m) => m?.role === "user");
  const match = USE_TOOL.exec(contentText(prompt?.content));
  return match && String(call.arguments).includes(`select:${match[1]}`) ? match : null;
}

function splitInto(text: string, pieces: number): string[] {
  const size = Math.max(1, Math.ceil(text.length / pieces));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length ? out : [""];
}

/** What a search model cites: the pages behind its answer, as `url_citation` annotations. */
const SEARCH_TEXT = "Two pages answer this.";
const SEARCH_ANNOTATIONS = [1, 2].map((n) => ({
  type: "url_citation",
  url_citation: {
    end_index: SEARCH_TEXT.length,
    start_index: 0,
    title: `Example page ${n}`,
    url: `https://example${n}.com/answer?utm_source=openai`,
  },
}));

/**
 * The answer cut where a requested stop string first appears: the stop string itself is not
 * returned, as the real API (and vLLM, llama.cpp, Ollama by default) leave it out.
 */
function cutAtStop(text: string, stops: unknown): { text: string; matched?: string } {
  if (!Array.isArray(stops)) return { text };
  let at = -1;
  let matched: string | undefined;
  for (const s of stops) {
    const i = typeof s === "string" && s ? text.indexOf(s) : -1;
    if (i !== -1 && (at === -1 || i < at)) [at, matched] = [i, s];
  }
  return at === -1 ? { text } : { text: text.slice(0, at), matched };
}

function defaultReply(body: any, compat: CompatRules): FakeReply {
  if (body.web_search_options !== undefined) {
    const usage = openaiUsage(Math.ceil(JSON.stringify(body.messages).length / 4), 6);
    if (body.stream !== true) {
      return {
        status: 200,
        json: openaiCompletion(
          { content: SEARCH_TEXT, annotations: SEARCH_ANNOTATIONS },
          "stop",
          usage,
          body.model,
        ),
      };
    }
    const id = `chatcmpl-${randomAlnum(29)}`;
    const chunk = (delta: Record<string, unknown>, reason: string | null = null) =>
      openaiChunk(delta, reason, { id, model: body.model });
    return {
      sse: [
        chunk({ role: "assistant", content: "", refusal: null }),
        chunk({ content: SEARCH_TEXT }),
        chunk({ annotations: SEARCH_ANNOTATIONS }),
        chunk({}, "stop"),
        openaiUsageChunk(usage, { id, model: body.model }),
        OPENAI_DONE,
      ],
    };
  }
  let answer = defaultAnswer(body.messages, body.tools);
  let matched: string | undefined;
  if ("text" in answer) {
    const cut = cutAtStop(answer.text, body.stop);
    answer = { text: cut.text };
    matched = cut.matched;
  }
  // vLLM puts stop_reason on every choice (null but for a stop string); SGLang only names it.
  const stopField = compat.reportsStop === "stop_reason"
    ? { stop_reason: matched ?? null }
    : compat.reportsStop === "matched_stop" && matched
    ? { matched_stop: matched }
    : undefined;
  const model = body.model;
  const prompt = Math.ceil(JSON.stringify(body.messages).length / 4);
  const completion = "text" in answer
    ? Math.ceil(answer.text.length / 4)
    : Math.ceil(answer.args.length / 4) + 8;
  const usage = openaiUsage(prompt, completion);
  const callId = `call_${randomAlnum(24)}`;
  const finish = "text" in answer ? "stop" : "tool_calls";
  if (body.stream !== true) {
    const message = "text" in answer ? { content: answer.text } : {
      tool_calls: [{
        id: callId,
        type: "function",
        function: { name: answer.tool, arguments: answer.args },
      }],
    };
    const json = openaiCompletion(message, finish, usage, model);
    Object.assign(json.choices[0], stopField);
    return { status: 200, json };
  }
  const includeUsage = body.stream_options?.include_usage === true;
  const id = `chatcmpl-${randomAlnum(29)}`;
  // Without include_usage the real API sends no usage key at all on chunks.
  const chunk = (delta: Record<string, unknown>, reason: string | null = null) => {
    const raw = openaiChunk(delta, reason, { id, model });
    return includeUsage ? raw : raw.replace(',"usage":null', "");
  };
  const sse = [chunk({ role: "assistant", content: "", refusal: null })];
  if ("text" in answer) {
    for (const piece of answer.text.split(/(?= )/)) sse.push(chunk({ content: piece }));
  } else {
    sse.push(chunk({
      tool_calls: [{
        index: 0,
        id: callId,
        type: "function",
        function: { name: answer.tool, arguments: "" },
      }],
    }));
    for (const piece of splitInto(answer.args, 3)) {
      sse.push(chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] }));
    }
  }
  const last = chunk({}, finish);
  sse.push(
    stopField
      ? last.replace(
        /"finish_reason":("\w+")/,
        (m) => `${m},${JSON.stringify(stopField).slice(1, -1)}`,
      )
      : last,
  );
  if (includeUsage) sse.push(openaiUsageChunk(usage, { id, model }));
  sse.push(OPENAI_DONE);
  return { sse };
}

// ---------------------------------------------------------------------------------------------
// Server

function jsonResponse(
  status: number,
  json: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(json), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

export function startFakeOpenAI(
  options: { requireKey?: string[] } & CompatRules = {},
): Promise<FakeUpstream> {
  const queue: FakeReply[] = [];
  const requests: RecordedRequest[] = [];
  // Ends hanging answers and unfinished streams so close() never waits on them.
  const closers = new Set<() => void>();
  let closing = false;

  const stream = (
    chunks: string[],
    delayMs: number,
    resetAfter?: number,
    thenHang = false,
  ): ReadableStream<Uint8Array> => {
    const encoder = new TextEncoder();
    let sent = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let wake: (() => void) | undefined;
    // "closed": the fake is shutting down; "cancelled": the client went away.
    let ended: "closed" | "cancelled" | undefined;
    const end = (why: "closed" | "cancelled") => {
      ended ??= why;
      clearTimeout(timer);
      wake?.();
      closers.delete(close);
    };
    const close = () => end("closed");
    closers.add(close);
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent > 0 && delayMs > 0 && !ended) {
          await new Promise<void>((resolve) => {
            wake = resolve;
            timer = setTimeout(resolve, delayMs);
          });
        }
        if (ended === "cancelled") return;
        // Shutting down mid-stream (test teardown): the body just ends, without [DONE].
        if (ended === "closed") {
          controller.close();
          return;
        }
        if (resetAfter !== undefined && sent >= resetAfter) {
          end("closed");
          // An errored body makes the server drop the connection mid-response. Deno logs the
          // reason, so it is one short line rather than an Error with its stack.
          controller.error("fake upstream: scripted connection reset");
          return;
        }
        if (sent >= chunks.length && thenHang && !ended) {
          await new Promise<void>((resolve) => wake = resolve);
          if (ended === "closed") controller.close();
          return;
        }
        if (sent >= chunks.length) {
          end("closed");
          controller.close();
          return;
        }
        controller.enqueue(encoder.encode(chunks[sent++]));
      },
      cancel() {
        end("cancelled");
      },
    });
  };

  const answer = (reply: FakeReply): Response | Promise<Response> => {
    if ("headersAfterMs" in reply && reply.headersAfterMs) {
      const now = { ...reply, headersAfterMs: 0 };
      return new Promise((r) => setTimeout(r, reply.headersAfterMs)).then(() => answer(now));
    }
    if ("hang" in reply) {
      // Answered only by close(): a client that gives up just leaves it pending until then.
      return new Promise<Response>((resolve) => {
        const done = () => {
          closers.delete(done);
          resolve(jsonResponse(503, openaiError("fake upstream closed", "server_error")));
        };
        closers.add(done);
      });
    }
    if ("resetAfterChunks" in reply) {
      return new Response(stream(reply.sse, 0, reply.resetAfterChunks), {
        headers: { "content-type": "text/event-stream" },
      });
    }
    if ("sse" in reply) {
      return new Response(stream(reply.sse, reply.delayMs ?? 0, undefined, reply.thenHang), {
        headers: {
          "content-type": "text/event-stream",
          "cache-control": "no-cache",
          ...reply.headers,
        },
      });
    }
    if (reply.text !== undefined) {
      return new Response(reply.text, { status: reply.status, headers: reply.headers });
    }
    return jsonResponse(reply.status, reply.json ?? {}, reply.headers);
  };

  const handler = async (req: Request, info: Deno.ServeHandlerInfo): Promise<Response> => {
    const path = new URL(req.url).pathname;
    const text = await req.text();
    let body: any = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // recorded as text
    }
    requests.push({
      path,
      headers: req.headers,
      body,
      clientPort: (info.remoteAddr as Deno.NetAddr).port,
    });
    if (closing) return jsonResponse(503, openaiError("fake upstream closing", "server_error"));
    if (req.method === "GET" && path === "/v1/models") {
      return jsonResponse(200, {
        object: "list",
        data: [
          { id: FAKE_MODEL, object: "model", created: CREATED, owned_by: "fake" },
          { id: "gpt-fake-mini", object: "model", created: CREATED, owned_by: "fake" },
        ],
      });
    }
    if (req.method !== "POST" || path !== "/v1/chat/completions") {
      return jsonResponse(404, openaiError(`Invalid URL (${req.method} ${path})`));
    }
    if (options.requireKey) {
      const key = /^Bearer (.+)$/i.exec(req.headers.get("authorization") ?? "")?.[1];
      if (!key || !options.requireKey.includes(key)) {
        return jsonResponse(
          401,
          openaiError(
            `Incorrect API key provided: ${
              (key ?? "").slice(0, 3)
            }***. You can find your API key at https://platform.openai.com/account/api-keys.`,
            "invalid_request_error",
            "invalid_api_key",
          ),
        );
      }
    }
    const forbidden = options.mistralApi ? mistralExtraForbidden(body) : undefined;
    if (forbidden) return jsonResponse(422, forbidden);
    try {
      validateChatRequest(body, options);
    } catch (e) {
      if (!(e instanceof Invalid)) throw e;
      return jsonResponse(400, openaiError(e.message, "invalid_request_error", e.code, e.param));
    }
    if (options.textOnly && JSON.stringify(body.messages).includes('"image_url"')) {
      return jsonResponse(500, {
        error: {
          code: 500,
          message:
            "image input is not supported - hint: if this is unexpected, you may need to provide the mmproj",
          type: "server_error",
        },
      });
    }
    const tooLong = options.contextWindow
      ? vllmWindowRefusal(body, options.contextWindow)
      : undefined;
    if (tooLong) {
      const param = tooLong.includes("characters") ? "input_text" : "input_tokens";
      return jsonResponse(400, {
        error: { message: tooLong, type: "BadRequestError", param, code: 400 },
      });
    }
    return answer(queue.shift() ?? defaultReply(body, options));
  };

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  return Promise.resolve({
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    enqueue(...replies) {
      queue.push(...replies);
    },
    async close() {
      closing = true;
      for (const close of [...closers]) close();
      await server.shutdown();
    },
  });
}
