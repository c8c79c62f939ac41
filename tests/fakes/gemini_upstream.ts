// A strict fake of the Gemini Developer API (generateContent, streamGenerateContent, countTokens)
// for end-to-end tests: it rejects, with the real error shapes, what the real API rejects.
//
// Order of checks for each request: route (404), key (403 / 400 API_KEY_INVALID), body (400
// INVALID_ARGUMENT); only a request that passes them takes the next queued reply, or gets the
// default answer when the queue is empty.

// deno-lint-ignore-file no-explicit-any

export interface RecordedRequest {
  path: string;
  headers: Headers;
  body: any;
}

export type FakeReply =
  | { status: number; json?: unknown; text?: string; headers?: Record<string, string> }
  | { sse: string[]; delayMs?: number } // each string one raw chunk written as is
  | { hang: true }
  | { resetAfterChunks: number; sse: string[] };

export interface FakeUpstream {
  url: string;
  requests: RecordedRequest[];
  enqueue(...replies: FakeReply[]): void;
  close(): Promise<void>;
}

export const SKIP_SIGNATURE = "skip_thought_signature_validator";

// ---------------------------------------------------------------------------------------------
// Helpers to build what Gemini sends, for tests.

/** One SSE event as Gemini frames it. */
export function sseEvent(json: unknown): string {
  return `data: ${JSON.stringify(json)}\r\n\r\n`;
}

export function textPart(text: string, opts: { thought?: boolean; signature?: string } = {}) {
  const part: Record<string, unknown> = { text };
  if (opts.thought) part.thought = true;
  if (opts.signature) part.thoughtSignature = opts.signature;
  return part;
}

export function callPart(
  name: string,
  args: unknown,
  opts: { id?: string; signature?: string } = {},
) {
  const fc: Record<string, unknown> = { name, args };
  if (opts.id) fc.id = opts.id;
  const part: Record<string, unknown> = { functionCall: fc };
  if (opts.signature) part.thoughtSignature = opts.signature;
  return part;
}

export function usageMetadata(
  prompt: number,
  candidates: number,
  opts: { thoughts?: number; cached?: number } = {},
) {
  const u: Record<string, unknown> = {
    promptTokenCount: prompt,
    candidatesTokenCount: candidates,
    totalTokenCount: prompt + candidates + (opts.thoughts ?? 0),
    promptTokensDetails: [{ modality: "TEXT", tokenCount: prompt }],
  };
  if (opts.thoughts) u.thoughtsTokenCount = opts.thoughts;
  if (opts.cached) u.cachedContentTokenCount = opts.cached;
  return u;
}

/** A GenerateContentResponse (one stream chunk, or a whole answer). */
export function chunk(
  parts: unknown[],
  opts: {
    finishReason?: string;
    finishMessage?: string;
    usage?: unknown;
    model?: string;
    responseId?: string;
  } = {},
) {
  const cand: Record<string, unknown> = { content: { parts, role: "model" }, index: 0 };
  if (opts.finishReason) cand.finishReason = opts.finishReason;
  if (opts.finishMessage) cand.finishMessage = opts.finishMessage;
  const out: Record<string, unknown> = { candidates: [cand] };
  if (opts.usage) out.usageMetadata = opts.usage;
  out.modelVersion = opts.model ?? "gemini-2.5-flash";
  out.responseId = opts.responseId ?? "fakeResp01";
  return out;
}

/** A reply streaming these chunks as SSE. */
export function sseReply(chunks: unknown[], delayMs?: number): FakeReply {
  return { sse: chunks.map(sseEvent), delayMs };
}

export function errorBody(code: number, status: string, message: string, details?: unknown[]) {
  const error: Record<string, unknown> = { code, message, status };
  if (details) error.details = details;
  return { error };
}

export function apiKeyInvalidBody() {
  return errorBody(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", [
    {
      "@type": "type.googleapis.com/google.rpc.ErrorInfo",
      reason: "API_KEY_INVALID",
      domain: "googleapis.com",
      metadata: { service: "generativelanguage.googleapis.com" },
    },
    {
      "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
      locale: "en-US",
      message: "API key not valid. Please pass a valid API key.",
    },
  ]);
}

/**
 * An error as Gemini writes it into a stream that already answered 200: the bare JSON object,
 * without `data:` (pretty-printed, or compact as some of its front ends send it).
 */
export function bareStreamError(body: unknown, opts: { pretty?: boolean } = {}): string {
  return opts.pretty ? `${JSON.stringify(body, null, 2)}\n` : JSON.stringify(body);
}

/** A 429 body with RetryInfo, per minute or per day. */
export function rateLimitBody(retryDelay: string, opts: { perDay?: boolean } = {}) {
  const quotaId = opts.perDay
    ? "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
    : "GenerateRequestsPerMinutePerProjectPerModel-FreeTier";
  return errorBody(
    429,
    "RESOURCE_EXHAUSTED",
    "You exceeded your current quota, please check your plan and billing details.",
    [
      {
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        violations: [{
          quotaMetric: "generativelanguage.googleapis.com/generate_content_free_tier_requests",
          quotaId,
          quotaDimensions: { location: "global", model: "gemini-2.5-flash" },
          quotaValue: opts.perDay ? "250" : "10",
        }],
      },
      { "@type": "type.googleapis.com/google.rpc.Help", links: [] },
      { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay },
    ],
  );
}

// ---------------------------------------------------------------------------------------------
// Validation: the first problem found, as the real API words it.

class Invalid extends Error {}

function fail(message: string): never {
  throw new Invalid(message);
}

const isObj = (v: unknown): v is Record<string, any> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const camel = (k: string) => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Unknown field check; returns the object with keys in camelCase (the API takes both spellings). */
/** Gemini's image types; others (GIF, "image/jpg") are refused, as the real API does. */
const GEMINI_IMAGE_TYPES = new Set([
  "image/png",
  "image/jpeg",
  "image/webp",
  "image/heic",
  "image/heif",
]);

function imageTypeTaken(mimeType: unknown): void {
  const type = String(mimeType ?? "");
  if (type.startsWith("image/") && !GEMINI_IMAGE_TYPES.has(type)) {
    fail(`Unsupported MIME type: ${type}`);
  }
}

function known(obj: unknown, allowed: readonly string[], at: string): Record<string, any> {
  if (!isObj(obj)) fail(`Invalid JSON payload received. Expected an object at '${at}'.`);
  const out: Record<string, any> = {};
  for (const [k, v] of Object.entries(obj)) {
    const c = camel(k);
    if (!allowed.includes(c)) {
      fail(
        `Invalid JSON payload received. Unknown name ${JSON.stringify(k)}${
          at ? ` at '${at}'` : ""
        }: Cannot find field.`,
      );
    }
    out[c] = v;
  }
  return out;
}

const join = (at: string, key: string) => (at ? `${at}.${snake(key)}` : snake(key));
const violation = (at: string, what: string) => fail(`* GenerateContentRequest.${at}: ${what}\n`);

const SCHEMA_KEYS = [
  "type",
  "format",
  "title",
  "description",
  "nullable",
  "enum",
  "items",
  "minItems",
  "maxItems",
  "properties",
  "required",
  "minProperties",
  "maxProperties",
  "minLength",
  "maxLength",
  "pattern",
  "minimum",
  "maximum",
  "anyOf",
  "default",
  "example",
  "propertyOrdering",
];
const TYPES = ["STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"];

function isInt64(v: unknown): boolean {
  return (typeof v === "number" && Number.isSafeInteger(v)) ||
    (typeof v === "string" && /^-?\d{1,18}$/.test(v));
}

function validateSchema(input: unknown, at: string): void {
  const s = known(input, SCHEMA_KEYS, at);
  let type: string | undefined;
  if (s.type !== undefined) {
    if (typeof s.type !== "string" || !TYPES.includes(s.type.toUpperCase())) {
      fail(
        `Invalid value at '${at}.type' (type.googleapis.com/google.ai.generativelanguage.v1beta.Type), ${
          JSON.stringify(s.type)
        }`,
      );
    }
    type = s.type.toUpperCase();
  } else if (!Array.isArray(s.anyOf)) {
    violation(`${at}.type`, "must be specified when not using one_of, any_of or all_of fields");
  }
  for (const k of ["title", "description", "pattern", "format"]) {
    if (s[k] !== undefined && typeof s[k] !== "string") {
      fail(`Invalid value at '${join(at, k)}' (TYPE_STRING), ${JSON.stringify(s[k])}`);
    }
  }
  if (s.nullable !== undefined && typeof s.nullable !== "boolean") {
    fail(`Invalid value at '${at}.nullable' (TYPE_BOOL), ${JSON.stringify(s.nullable)}`);
  }
  for (
    const k of ["minItems", "maxItems", "minProperties", "maxProperties", "minLength", "maxLength"]
  ) {
    if (s[k] !== undefined && !isInt64(s[k])) {
      fail(`Invalid value at '${join(at, k)}' (TYPE_INT64), ${JSON.stringify(s[k])}`);
    }
  }
  for (const k of ["minimum", "maximum"]) {
    if (s[k] !== undefined && typeof s[k] !== "number") {
      fail(`Invalid value at '${at}.${k}' (TYPE_DOUBLE), ${JSON.stringify(s[k])}`);
    }
  }
  if (s.enum !== undefined) {
    if (!Array.isArray(s.enum)) fail(`Invalid value at '${at}.enum' (TYPE_STRING)`);
    s.enum.forEach((v: unknown, i: number) => {
      if (typeof v !== "string") {
        fail(`Invalid value at '${at}.enum[${i}]' (TYPE_STRING), ${JSON.stringify(v)}`);
      }
    });
    if (type !== "STRING") violation(`${at}.enum`, "only allowed for STRING type");
  }
  if (s.format !== undefined) {
    const ok = type === "STRING"
      ? ["enum", "date-time"]
      : type === "INTEGER"
      ? ["int32", "int64"]
      : type === "NUMBER"
      ? ["float", "double"]
      : [];
    if (!ok.includes(s.format)) {
      violation(
        `${at}.format`,
        type === "STRING"
          ? "only 'enum' and 'date-time' are supported for STRING type"
          : `format ${JSON.stringify(s.format)} is not supported for ${type} type`,
      );
    }
  }
  if (s.properties !== undefined && !isObj(s.properties)) {
    fail(`Invalid JSON payload received. Expected an object at '${at}.properties'.`);
  }
  const props = isObj(s.properties) ? s.properties : {};
  Object.entries(props).forEach(([_, sub], i) =>
    validateSchema(sub, `${at}.properties[${i}].value`)
  );
  if (type === "OBJECT" && Object.keys(props).length === 0) {
    violation(`${at}.properties`, "should be non-empty for OBJECT type");
  }
  if (s.required !== undefined) {
    if (!Array.isArray(s.required)) fail(`Invalid value at '${at}.required' (TYPE_STRING)`);
    s.required.forEach((r: unknown, i: number) => {
      if (typeof r !== "string" || !(r in props)) {
        violation(`${at}.required[${i}]`, "property is not defined");
      }
    });
  }
  if (s.propertyOrdering !== undefined) {
    if (
      !Array.isArray(s.propertyOrdering) ||
      s.propertyOrdering.some((p: unknown) => !(String(p) in props))
    ) {
      violation(`${at}.property_ordering`, "property is not defined");
    }
  }
  if (type === "ARRAY" && s.items === undefined) violation(`${at}.items`, "missing field.");
  if (s.items !== undefined) validateSchema(s.items, `${at}.items`);
  if (s.anyOf !== undefined) {
    if (!Array.isArray(s.anyOf) || s.anyOf.length === 0) {
      violation(`${at}.any_of`, "must not be empty");
    }
    s.anyOf.forEach((b: unknown, i: number) => validateSchema(b, `${at}.any_of[${i}]`));
  }
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const DATA_FIELDS = [
  "text",
  "inlineData",
  "fileData",
  "functionCall",
  "functionResponse",
  "executableCode",
  "codeExecutionResult",
];

function validatePart(input: unknown, at: string): Record<string, any> {
  const p = known(input, [
    ...DATA_FIELDS,
    "thought",
    "thoughtSignature",
    "videoMetadata",
    "partMetadata",
  ], at);
  const data = DATA_FIELDS.filter((f) => p[f] !== undefined);
  if (data.length !== 1 || (data[0] === "text" && (typeof p.text !== "string" || p.text === ""))) {
    violation(`${at}.data`, "required oneof field 'data' must have one initialized field");
  }
  if (p.thought !== undefined && typeof p.thought !== "boolean") {
    fail(`Invalid value at '${at}.thought' (TYPE_BOOL), ${JSON.stringify(p.thought)}`);
  }
  if (p.thoughtSignature !== undefined) {
    if (typeof p.thoughtSignature !== "string" || !BASE64.test(p.thoughtSignature)) {
      fail(
        `Invalid value at '${at}.thought_signature' (TYPE_BYTES), Base64 decoding failed for ${
          JSON.stringify(String(p.thoughtSignature).slice(0, 40))
        }`,
      );
    }
  }
  if (p.inlineData !== undefined) {
    const d = known(p.inlineData, ["mimeType", "data", "displayName"], `${at}.inline_data`);
    if (!d.mimeType) violation(`${at}.inline_data.mime_type`, "required field is not set");
    imageTypeTaken(d.mimeType);
    if (typeof d.data !== "string" || !d.data || !BASE64.test(d.data)) {
      fail(`Invalid value at '${at}.inline_data.data' (TYPE_BYTES), Base64 decoding failed`);
    }
  }
  if (p.fileData !== undefined) {
    const d = known(p.fileData, ["mimeType", "fileUri", "displayName"], `${at}.file_data`);
    if (!d.fileUri) violation(`${at}.file_data.file_uri`, "required field is not set");
    imageTypeTaken(d.mimeType);
  }
  if (p.functionCall !== undefined) {
    const fc = known(p.functionCall, ["id", "name", "args"], `${at}.function_call`);
    if (typeof fc.name !== "string" || !fc.name) {
      violation(`${at}.function_call.name`, "Name cannot be empty.");
    }
    if (fc.args !== undefined && !isObj(fc.args)) {
      fail(
        `Invalid value at '${at}.function_call.args' (type.googleapis.com/google.protobuf.Struct)`,
      );
    }
  }
  if (p.functionResponse !== undefined) {
    const fr = known(
      p.functionResponse,
      ["id", "name", "response", "parts", "willContinue", "scheduling"],
      `${at}.function_response`,
    );
    if (typeof fr.name !== "string" || !fr.name) {
      violation(`${at}.function_response.name`, "Name cannot be empty.");
    }
    if (!isObj(fr.response)) {
      fail(
        `Invalid value at '${at}.function_response.response' (type.googleapis.com/google.protobuf.Struct), ${
          JSON.stringify(fr.response)
        }`,
      );
    }
  }
  return p;
}

interface Declared {
  names: Set<string>;
}

function validateTools(tools: unknown, declared: Declared): void {
  if (!Array.isArray(tools)) {
    fail(`Invalid value at 'tools' (type.googleapis.com/google.ai.generativelanguage.v1beta.Tool)`);
  }
  tools.forEach((tool, i) => {
    const t = known(tool, [
      "functionDeclarations",
      "googleSearch",
      "googleSearchRetrieval",
      "codeExecution",
      "urlContext",
      "computerUse",
      "fileSearch",
    ], `tools[${i}]`);
    if (t.googleSearch !== undefined && tools.some((o) => isObj(o) && o.functionDeclarations)) {
      // 2.x models: search grounding and function calling do not mix.
      fail("Tool use with function calling is unsupported by the model.");
    }
    (t.functionDeclarations ?? []).forEach((decl: unknown, j: number) => {
      const at = `tools[${i}].function_declarations[${j}]`;
      const d = known(decl, [
        "name",
        "description",
        "parameters",
        "parametersJsonSchema",
        "response",
        "responseJsonSchema",
        "behavior",
      ], at);
      if (typeof d.name !== "string" || !/^[a-zA-Z_][a-zA-Z0-9_.:-]{0,127}$/.test(d.name)) {
        violation(
          `tools[${i}].function_declarations[${j}].name`,
          "Invalid function name. Must start with a letter or an underscore. Must be a-z, A-Z, 0-9, or contain underscores, dots, colons and dashes, with a maximum length of 128.",
        );
      }
      if (declared.names.has(d.name)) {
        violation(
          `tools[${i}].function_declarations[${j}].name`,
          `Duplicate function declaration: ${d.name}`,
        );
      }
      declared.names.add(d.name);
      if (d.parameters !== undefined && d.parametersJsonSchema !== undefined) {
        violation(
          `${at}.parameters`,
          "parameters and parameters_json_schema are mutually exclusive",
        );
      }
      if (d.parameters !== undefined) {
        validateSchema(d.parameters, `${at}.parameters`);
        const type = String(d.parameters.type ?? "").toUpperCase();
        if (type !== "OBJECT") violation(`${at}.parameters.type`, "should be OBJECT");
      }
    });
  });
}

function validateToolConfig(config: unknown, declared: Declared): void {
  const c = known(config, ["functionCallingConfig", "retrievalConfig"], "tool_config");
  if (c.functionCallingConfig === undefined) return;
  const f = known(
    c.functionCallingConfig,
    ["mode", "allowedFunctionNames"],
    "tool_config.function_calling_config",
  );
  if (
    f.mode !== undefined &&
    !["MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"].includes(f.mode)
  ) {
    fail(
      `Invalid value at 'tool_config.function_calling_config.mode' (type.googleapis.com/google.ai.generativelanguage.v1beta.FunctionCallingConfig.Mode), ${
        JSON.stringify(f.mode)
      }`,
    );
  }
  if (f.allowedFunctionNames !== undefined) {
    if (f.mode !== "ANY" && f.mode !== "VALIDATED") {
      violation(
        "tool_config.function_calling_config.allowed_function_names",
        "can only be set when mode is ANY",
      );
    }
    for (const name of f.allowedFunctionNames) {
      if (!declared.names.has(name)) {
        violation(
          "tool_config.function_calling_config.allowed_function_names",
          `function ${JSON.stringify(name)} is not declared`,
        );
      }
    }
  }
}

const GENERATION_KEYS = [
  "stopSequences",
  "responseMimeType",
  "responseSchema",
  "responseJsonSchema",
  "responseModalities",
  "candidateCount",
  "maxOutputTokens",
  "temperature",
  "topP",
  "topK",
  "seed",
  "presencePenalty",
  "frequencyPenalty",
  "responseLogprobs",
  "logprobs",
  "enableEnhancedCivicAnswers",
  "speechConfig",
  "thinkingConfig",
  "mediaResolution",
  "imageConfig",
];

/** Output token limits of the models tests use; the real API states the range in its 400. */
const OUTPUT_LIMITS: Array<[RegExp, number]> = [
  [/^gemini-(1\.5|2\.0)-/, 8192],
  [/^gemini-(2\.5|3)/, 65536],
];

function validateGenerationConfig(config: unknown, model?: string): Record<string, any> {
  const g = known(config, GENERATION_KEYS, "generation_config");
  for (const k of ["maxOutputTokens", "topK", "candidateCount"]) {
    if (g[k] !== undefined && !Number.isInteger(g[k])) {
      fail(
        `Invalid value at 'generation_config.${snake(k)}' (TYPE_INT32), ${JSON.stringify(g[k])}`,
      );
    }
  }
  if (g.maxOutputTokens !== undefined && g.maxOutputTokens < 1) {
    violation("generation_config.max_output_tokens", "must be positive");
  }
  const limit = model ? OUTPUT_LIMITS.find(([re]) => re.test(model))?.[1] : undefined;
  if (limit && g.maxOutputTokens > limit) {
    fail(
      `Unable to submit request because it has a maxOutputTokens value of ${g.maxOutputTokens} but the supported range is from 1 (inclusive) to ${
        limit + 1
      } (exclusive). Update the value and try again.`,
    );
  }
  if (g.stopSequences !== undefined) {
    if (!Array.isArray(g.stopSequences) || g.stopSequences.length > 5) {
      violation("generation_config.stop_sequences", "at most 5 stop sequences are allowed");
    }
  }
  if (g.thinkingConfig !== undefined) {
    const t = known(
      g.thinkingConfig,
      ["includeThoughts", "thinkingBudget", "thinkingLevel"],
      "generation_config.thinking_config",
    );
    if (t.thinkingBudget !== undefined && t.thinkingLevel !== undefined) {
      violation(
        "generation_config.thinking_config",
        "thinking_budget and thinking_level cannot both be set",
      );
    }
  }
  if (g.responseSchema !== undefined) {
    if (g.responseJsonSchema !== undefined) {
      violation(
        "generation_config.response_schema",
        "response_schema and response_json_schema are mutually exclusive",
      );
    }
    validateSchema(g.responseSchema, "generation_config.response_schema");
  }
  if (g.responseJsonSchema !== undefined && !isObj(g.responseJsonSchema)) {
    fail(
      `Invalid value at 'generation_config.response_json_schema' (type.googleapis.com/google.protobuf.Value), ${
        JSON.stringify(g.responseJsonSchema)
      }`,
    );
  }
  if (
    (g.responseSchema !== undefined || g.responseJsonSchema !== undefined) &&
    g.responseMimeType !== "application/json" && g.responseMimeType !== "text/x.enum"
  ) {
    violation(
      "generation_config.response_mime_type",
      "must be application/json or text/x.enum when a response schema is set",
    );
  }
  return g;
}

const REQUEST_KEYS = [
  "contents",
  "systemInstruction",
  "tools",
  "toolConfig",
  "safetySettings",
  "generationConfig",
  "cachedContent",
  "model",
  "labels",
];

interface Checked {
  contents: Record<string, any>[];
  includeThoughts: boolean;
  /** The functions the request declares: the only ones a model can call. */
  declared: ReadonlySet<string>;
  /** The function mode ANY makes the model call, when the prompt names none. */
  forced?: string;
}

/** Throws Invalid for the first problem a real generateContent would report. */
function validateRequest(
  input: unknown,
  opts: FakeOptions,
  issued: Set<string> | undefined,
  model?: string,
): Checked {
  const body = known(input, REQUEST_KEYS, "");
  const declared: Declared = { names: new Set() };
  if (body.tools !== undefined) validateTools(body.tools, declared);
  if (body.toolConfig !== undefined) validateToolConfig(body.toolConfig, declared);
  const gc = body.generationConfig !== undefined
    ? validateGenerationConfig(body.generationConfig, model)
    : {};
  if (body.systemInstruction !== undefined) {
    const si = known(body.systemInstruction, ["role", "parts"], "system_instruction");
    if (!Array.isArray(si.parts) || si.parts.length === 0) {
      violation("system_instruction.parts", "contents.parts must not be empty.");
    }
    si.parts.forEach((p: unknown, i: number) => validatePart(p, `system_instruction.parts[${i}]`));
  }
  if (!Array.isArray(body.contents) || body.contents.length === 0) {
    violation("contents", "contents is not specified");
  }
  const contents = body.contents.map((c: unknown, i: number) => {
    const content = known(c, ["role", "parts"], `contents[${i}]`);
    const role = content.role ?? "user";
    if (role !== "user" && role !== "model") fail("Please use a valid role: user, model.");
    if (!Array.isArray(content.parts) || content.parts.length === 0) {
      violation(`contents[${i}].parts`, "contents.parts must not be empty.");
    }
    const parts = content.parts.map((p: unknown, j: number) =>
      validatePart(p, `contents[${i}].parts[${j}]`)
    );
    return { role, parts };
  });
  if (contents[0].role !== "user") {
    fail("Please ensure that the first turn of a conversation is a user turn.");
  }
  contents.forEach((c: Record<string, any>, i: number) => {
    if (i > 0 && contents[i - 1].role === c.role) {
      fail("Please ensure that multiturn requests alternate between user and model.");
    }
    const calls = c.parts.filter((p: any) => p.functionCall).map((p: any) => p.functionCall);
    const responses = c.parts.filter((p: any) => p.functionResponse).map((p: any) =>
      p.functionResponse
    );
    if (c.role === "user" && responses.length) {
      const prevCalls = i > 0
        ? contents[i - 1].parts.filter((p: any) => p.functionCall).map((p: any) => p.functionCall)
        : [];
      if (!prevCalls.length) {
        fail(
          "Please ensure that function response turn comes immediately after a function call turn.",
        );
      }
    }
    if (c.role === "model" && calls.length) {
      const first = c.parts.find((p: any) => p.functionCall);
      if (opts.thinkingModel && !first.thoughtSignature) {
        const position = c.parts.indexOf(first) + 1;
        fail(
          `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call \`default_api:${first.functionCall.name}\` , position ${position}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.`,
        );
      }
      const next = contents[i + 1];
      if (!next) return;
      const answers = next.parts.filter((p: any) => p.functionResponse).map((p: any) =>
        p.functionResponse
      );
      if (answers.length !== calls.length) {
        fail(
          "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.",
        );
      }
      const names = calls.map((fc: any) => fc.name).sort();
      const answered = answers.map((fr: any) => fr.name).sort();
      names.forEach((name: string, k: number) => {
        if (answered[k] !== name) {
          fail(
            `Please ensure that function response names match the function call names of the function call turn: ${
              JSON.stringify(answered[k])
            } does not answer ${JSON.stringify(name)}.`,
          );
        }
      });
      const ids = new Set(calls.map((fc: any) => fc.id).filter(Boolean));
      for (const fr of answers) {
        if (fr.id !== undefined && !ids.has(fr.id)) {
          fail(
            `Function response id ${JSON.stringify(fr.id)} does not match any function call id.`,
          );
        }
      }
    }
    if (opts.thinkingModel && issued) {
      for (const p of c.parts) {
        if (
          p.thoughtSignature && p.thoughtSignature !== SKIP_SIGNATURE &&
          !issued.has(p.thoughtSignature)
        ) {
          fail("Corrupted thought signature.");
        }
      }
    }
  });
  const calling = body.toolConfig?.functionCallingConfig;
  return {
    contents,
    includeThoughts: gc.thinkingConfig?.includeThoughts === true,
    declared: declared.names,
    forced: calling?.mode === "ANY"
      ? calling.allowedFunctionNames?.[0] ?? declared.names.values().next().value
      : undefined,
  };
}

/**
 * The message a real generateContent would answer 400 with for this body, or undefined when it
 * would accept it. (Signatures are not checked for having been issued: there is no server here.)
 */
export function checkGeminiRequest(
  body: unknown,
  options: { thinkingModel?: boolean; model?: string } = {},
): string | undefined {
  try {
    validateRequest(body, options, undefined, options.model);
    return undefined;
  } catch (err) {
    if (err instanceof Invalid) return err.message;
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// The default answer.

interface FakeOptions {
  requireKey?: string[];
  thinkingModel?: boolean;
}

function newSignature(issued: Set<string>): string {
  const bytes = crypto.getRandomValues(new Uint8Array(61));
  const sig = btoa(String.fromCharCode(...bytes));
  issued.add(sig);
  return sig;
}

const USE_TOOL = /use tool (\S+) with (\{[\s\S]*\})/;

/** The tool a ToolSearch call (the last model turn) loaded for the user's ask, and its arguments. */
function toolLoaded(contents: any[]): RegExpExecArray | null {
  let i = contents.length - 1;
  while (i >= 0 && contents[i]?.role !== "model") i--;
  const call = contents[i]?.parts?.find((p: any) => p.functionCall)?.functionCall;
  if (call?.name !== "ToolSearch") return null;
  for (let j = i - 1; j >= 0; j--) {
    if (contents[j]?.role !== "user") continue;
    const text = contents[j].parts.filter((p: any) => typeof p.text === "string")
      .map((p: any) => p.text).join("\n");
    const match = USE_TOOL.exec(text);
    if (match) return String(call.args?.query).includes(`select:${match[1]}`) ? match : null;
  }
  return null;
}
function defaultChunks(
  model: string,
  body: any,
  checked: Checked,
  opts: FakeOptions,
  issued: Set<string>,
): Record<string, unknown>[] {
  const last = checked.contents[checked.contents.length - 1];
  const response = last.role === "user"
    ? last.parts.find((p: any) => p.functionResponse)?.functionResponse
    : undefined;
  const userText = last.role === "user"
    ? last.parts.filter((p: any) => typeof p.text === "string").map((p: any) => p.text).join("\n")
    : "";
  const prompt = Math.max(1, Math.ceil(JSON.stringify(body).length / 4));
  const thoughts = opts.thinkingModel ? 24 : 0;
  const meta = { model, responseId: `fake${Math.random().toString(36).slice(2, 10)}` };
  const chunks: Record<string, unknown>[] = [];
  if (opts.thinkingModel && checked.includeThoughts) {
    chunks.push(
      chunk(
        [textPart("**Considering the request**\n\nWorking out an answer.", { thought: true })],
        meta,
      ),
    );
  }
  const asked = response ? null : USE_TOOL.exec(userText);
  let use: readonly string[] | null = asked && checked.declared.has(asked[1]) ? asked : null;
  if (!use && asked && checked.declared.has("ToolSearch")) {
    // Asked for a tool it was not given, a model with a tool search (Claude Code's deferred
    // tools) loads it first, then calls it.
    use = ["", "ToolSearch", JSON.stringify({ query: `select:${asked[1]}` })];
  } else if (response?.name === "ToolSearch") {
    const loaded = toolLoaded(checked.contents);
    if (loaded && checked.declared.has(loaded[1])) use = loaded;
  }
  // Mode ANY: the model must call a function, whatever the prompt asks.
  if (!response && !use && checked.forced) use = ["", checked.forced, "{}"];
  if (use) {
    let args: unknown;
    try {
      args = JSON.parse(use[2]);
    } catch {
      args = undefined;
    }
    if (isObj(args)) {
      const signature = opts.thinkingModel ? newSignature(issued) : undefined;
      chunks.push(
        chunk([callPart(use[1], args, { signature })], {
          ...meta,
          finishReason: "STOP",
          usage: usageMetadata(prompt, 12, { thoughts }),
        }),
      );
      return chunks;
    }
  }
  const searching = Array.isArray(body.tools) && body.tools.some((t: any) => t?.googleSearch);
  if (searching && !response) {
    // Grounded answers carry what was searched and the pages used on their last chunk.
    const query = userText.replace(/^[^:]*:\s*/, "").slice(0, 80) || "query";
    chunks.push(chunk([textPart("Two pages answer this.")], meta));
    const final = chunk([textPart(" They agree.")], {
      ...meta,
      finishReason: "STOP",
      usage: usageMetadata(prompt, 8, { thoughts }),
    }) as any;
    final.candidates[0].groundingMetadata = {
      searchEntryPoint: { renderedContent: '<div class="container"></div>' },
      groundingChunks: [1, 2].map((n) => ({
        web: {
          uri: `https://vertexaisearch.cloud.google.com/grounding-api-redirect/fake${n}`,
          title: `example${n}.com`,
        },
      })),
      groundingSupports: [{
        segment: { startIndex: 0, endIndex: 22, text: "Two pages answer this." },
        groundingChunkIndices: [0, 1],
        confidenceScores: [0.9, 0.8],
      }],
      webSearchQueries: [query],
    };
    chunks.push(final);
    return chunks;
  }
  const text = response
    ? `Tool result received: ${JSON.stringify(response.response).slice(0, 200)}`
    : "Hello from fake Gemini";
  const pieces = text.length > 8
    ? [
      text.slice(0, 5),
      text.slice(5, Math.ceil(text.length / 2)),
      text.slice(Math.ceil(text.length / 2)),
    ]
    : [text];
  pieces.forEach((piece, i) => {
    const final = i === pieces.length - 1;
    const parts: unknown[] = [textPart(piece)];
    // Thinking models sign the last part of an answer without calls, often an empty one.
    if (final && opts.thinkingModel) {
      parts.push({ text: "", thoughtSignature: newSignature(issued) });
    }
    chunks.push(
      chunk(
        parts,
        final
          ? {
            ...meta,
            finishReason: "STOP",
            usage: usageMetadata(prompt, Math.ceil(text.length / 4), { thoughts }),
          }
          : meta,
      ),
    );
  });
  return chunks;
}

/** The chunks of a stream as one non-streamed answer: parts merged, the final fields kept. */
function mergeChunks(chunks: Record<string, any>[]): Record<string, unknown> {
  const parts: Record<string, unknown>[] = [];
  for (const c of chunks) {
    for (const p of c.candidates[0].content.parts) {
      const prev = parts[parts.length - 1];
      if (
        prev && typeof p.text === "string" && typeof prev.text === "string" &&
        !prev.thoughtSignature && !!p.thought === !!prev.thought
      ) {
        prev.text += p.text;
        if (p.thoughtSignature) prev.thoughtSignature = p.thoughtSignature;
      } else parts.push({ ...p });
    }
  }
  const last = chunks[chunks.length - 1];
  return {
    ...last,
    candidates: [{ ...last.candidates[0], content: { parts, role: "model" } }],
  };
}

// ---------------------------------------------------------------------------------------------

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=UTF-8", ...headers },
  });
}

function invalid(message: string): Response {
  return json(400, errorBody(400, "INVALID_ARGUMENT", message));
}

const ROUTE =
  /^\/v1(?:beta)?\/models\/([^/:]+):(generateContent|streamGenerateContent|countTokens)$/;

export function startFakeGemini(options: FakeOptions = {}): Promise<FakeUpstream> {
  const queue: FakeReply[] = [];
  const requests: RecordedRequest[] = [];
  // Signatures are good only with the key they were issued to (another gives "Corrupted").
  const issuedByKey = new Map<string, Set<string>>();
  const stop = new AbortController();
  const hanging = new Set<() => void>();

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (stop.signal.aborted) return resolve();
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        stop.signal.removeEventListener("abort", done);
        resolve();
      }
      stop.signal.addEventListener("abort", done);
    });

  const streamed = (chunks: string[], delayMs: number, resetAfter?: number): Response => {
    const encoder = new TextEncoder();
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        for (let i = 0; i < chunks.length; i++) {
          if (resetAfter !== undefined && i >= resetAfter) break;
          if (i > 0 && delayMs > 0) await sleep(delayMs);
          if (cancelled || stop.signal.aborted) break;
          controller.enqueue(encoder.encode(chunks[i]));
        }
        if (cancelled) return;
        if (resetAfter !== undefined) {
          controller.error(new Error("fake Gemini: connection reset as scripted"));
        } else controller.close();
      },
      cancel() {
        cancelled = true;
      },
    });
    return new Response(body, {
      headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
    });
  };

  const play = (reply: FakeReply, signal: AbortSignal): Response | Promise<Response> => {
    if ("hang" in reply) {
      return new Promise<Response>((resolve) => {
        const release = () => {
          hanging.delete(release);
          resolve(new Response("released", { status: 503 }));
        };
        hanging.add(release);
        signal.addEventListener("abort", release);
      });
    }
    if ("resetAfterChunks" in reply) return streamed(reply.sse, 0, reply.resetAfterChunks);
    if ("sse" in reply) return streamed(reply.sse, reply.delayMs ?? 0);
    const headers = reply.headers ?? {};
    if (reply.json !== undefined) return json(reply.status, reply.json, headers);
    return new Response(reply.text ?? "", { status: reply.status, headers });
  };

  const handle = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    if (req.method === "GET" && url.pathname === "/v1beta/models") {
      requests.push({ path: url.pathname + url.search, headers: req.headers, body: undefined });
      return json(200, {
        models: [
          {
            name: "models/gemini-2.5-flash",
            displayName: "Gemini 2.5 Flash",
            supportedGenerationMethods: ["generateContent", "countTokens"],
          },
          {
            name: "models/text-embedding-004",
            displayName: "Text Embedding 004",
            supportedGenerationMethods: ["embedContent"],
          },
        ],
      });
    }
    const route = ROUTE.exec(url.pathname);
    if (req.method !== "POST" || !route) {
      return json(404, errorBody(404, "NOT_FOUND", `Path ${url.pathname} was not found.`));
    }
    const text = await req.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    requests.push({ path: url.pathname + url.search, headers: req.headers, body });

    const key = req.headers.get("x-goog-api-key") ?? url.searchParams.get("key");
    if (options.requireKey) {
      if (!key) {
        return json(
          403,
          errorBody(
            403,
            "PERMISSION_DENIED",
            "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
          ),
        );
      }
      if (!options.requireKey.includes(key)) return json(400, apiKeyInvalidBody());
    }
    if (typeof body === "string") {
      return invalid(`Invalid JSON payload received. Unexpected token.\n${text.slice(0, 40)}`);
    }

    const [, model, method] = route;
    const issued = issuedByKey.get(key ?? "") ?? new Set<string>();
    issuedByKey.set(key ?? "", issued);
    let checked: Checked;
    try {
      if (method === "countTokens") {
        const outer = known(body, ["contents", "generateContentRequest"], "");
        if (outer.generateContentRequest !== undefined) {
          const inner = outer.generateContentRequest;
          if (
            !isObj(inner) || typeof inner.model !== "string" || !inner.model.startsWith("models/")
          ) {
            violation("generate_content_request.model", "must be of the form models/{model}");
          }
          checked = validateRequest(inner, options, issued, model);
        } else checked = validateRequest({ contents: outer.contents }, options, issued);
      } else checked = validateRequest(body, options, issued, model);
    } catch (err) {
      if (err instanceof Invalid) return invalid(err.message);
      throw err;
    }

    const queued = queue.shift();
    if (queued) return play(queued, req.signal);

    if (method === "countTokens") {
      const totalTokens = Math.max(1, Math.ceil(text.length / 4));
      return json(200, {
        totalTokens,
        promptTokensDetails: [{ modality: "TEXT", tokenCount: totalTokens }],
      });
    }
    const chunks = defaultChunks(model, body, checked, options, issued);
    if (method === "generateContent") return json(200, mergeChunks(chunks));
    if (url.searchParams.get("alt") === "sse") return streamed(chunks.map(sseEvent), 5);
    return json(200, chunks);
  };

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: stop.signal, onListen() {} },
    handle,
  );
  const addr = server.addr as Deno.NetAddr;
  return Promise.resolve({
    url: `http://127.0.0.1:${addr.port}`,
    requests,
    enqueue(...replies) {
      queue.push(...replies);
    },
    async close() {
      for (const release of [...hanging]) release();
      stop.abort();
      await server.finished;
    },
  });
}
