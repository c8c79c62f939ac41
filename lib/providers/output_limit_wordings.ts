// How OpenAI and the servers behind OpenAI-compatible APIs (DeepSeek, Groq, vLLM, SGLang, TGI,
// TensorRT-LLM, OpenRouter...) name the max_tokens they take when they refuse Claude Code's.
// Anthropic's and Gemini's own OpenAI-compatible endpoints, and routers, answer in their words.
import { positiveInt } from "./positive_int.ts";
import { anthropicOutputLimit } from "./anthropic_refusals.ts";
import { geminiOutputLimit } from "./gemini_refusals.ts";
import type { OutputLimitHint } from "./types.ts";

type WindowHint = Extract<OutputLimitHint, { context: number }>;

const CONTEXT_PATTERNS: Array<(m: string) => WindowHint | undefined> = [
  // vLLM before 0.10: "maximum context length is 8192 tokens. However, you requested 64010
  // tokens (10 in the messages, 64000 in the completion)"
  (m) => pair(/maximum context length is (\d+) tokens[^(]*\((\d+) in the messages/i.exec(m)),
  // vLLM since: "'max_tokens' or 'max_completion_tokens' is too large: 64000. This model's maximum
  // context length is 32768 tokens and your request has 1234 input tokens (64000 > 32768 - 1234)"
  (m) =>
    /max_(?:completion_)?tokens/i.test(m)
      ? pair(/maximum context length is (\d+) tokens and your request has (\d+) input tokens/i
        .exec(m))
      : undefined,
  // vLLM 0.18 and later, when it counted the whole prompt: "maximum context length is 40960
  // tokens. However, you requested 64000 output tokens and your prompt contains 19000 input tokens"
  (m) =>
    pair(
      /maximum context length is (\d+) tokens\. However, you requested \d+ output tokens and your prompt contains (\d+) input tokens/i
        .exec(m),
    ),
  // SGLang: "maximum context length of 40960 tokens. You requested a total of 83000 tokens: 19000
  // tokens from the input messages and 64000 tokens for the completion"
  (m) =>
    pair(
      /maximum context length of (\d+) tokens\. You requested a total of \d+ tokens: (\d+) tokens from the input messages/i
        .exec(m),
    ),
  // OpenRouter: "This endpoint's maximum context length is 131072 tokens. However, you requested
  // about 150000 tokens (76000 of text input, 10000 of tool input, 64000 in the output)"
  (m) => {
    const hit =
      /maximum context length is (\d+) tokens\. However, you requested about \d+ tokens \(([^)]{1,200})\)/i
        .exec(m);
    const context = positiveInt(hit?.[1]);
    const prompt = hit ? inputsOf(hit[2]) : 0;
    return context && prompt && prompt < context ? { context, prompt } : undefined;
  },
  // TGI: "`inputs` tokens + `max_new_tokens` must be <= 32768. Given: 19000 `inputs` tokens"
  (m) =>
    pair(
      /`inputs` tokens \+ `max_new_tokens` must be <= (\d+)\. Given: (\d+) `inputs` tokens/i.exec(
        m,
      ),
    ),
];

/**
 * Windows whose refusal names only a floor of the prompt: vLLM counts a prompt only as far as the
 * window allows, and not at all when max_tokens leaves it no room.
 */
const FLOOR_PATTERNS: Array<(m: string) => WindowHint | undefined> = [
  // vLLM 0.18 and later: "maximum context length is 40960 tokens. However, you requested 20000
  // output tokens and your prompt contains at least 20961 input tokens", or "... contains 76000
  // characters (more than 0 characters, which is the upper bound for 0 input tokens)"
  (m) => {
    const hit =
      /maximum context length is (\d+) tokens\. However, you requested \d+ output tokens and your prompt contains (?:at least (\d+) input tokens|\d+ characters \(more than \d+ characters, which is the upper bound for (\d+) input tokens)/i
        .exec(m);
    return window(hit?.[1], hit?.[2] ? Number(hit[2]) : Number(hit?.[3]) + 1);
  },
  // vLLM 0.16 and 0.17: "You passed 20961 input tokens (or 76000 input characters) and requested
  // 20000 output tokens. However, the model's context length is only 40960 tokens"
  (m) => {
    const hit =
      /You passed (\d+) input (tokens|characters) and requested \d+ output tokens\. However, the model's context length is only (\d+) tokens/i
        .exec(m);
    return window(hit?.[3], /^tokens$/i.test(hit?.[2] ?? "") ? Number(hit![1]) : 1);
  },
  // vLLM and TensorRT-LLM, max_tokens over the whole window: "max_tokens=64000 cannot be greater
  // than max_model_len=max_total_tokens=40960"
  (m) =>
    window(
      /max_(?:completion_)?tokens=\d+ cannot be greater than max_model_len=(?:max_total_tokens=)?(\d+)/i
        .exec(m)?.[1],
      1,
    ),
];

const OUTPUT_PATTERNS: Array<(m: string) => number | undefined> = [
  // DeepSeek: "the valid range of max_tokens is [1, 8192]"
  (m) => positiveInt(/valid range of max_(?:completion_)?tokens is \[\d+,\s*(\d+)\]/i.exec(m)?.[1]),
  // OpenAI: "This model supports at most 16384 completion tokens"
  (m) => positiveInt(/supports at most (\d+) completion tokens/i.exec(m)?.[1]),
  anthropicOutputLimit,
  // Groq and others: "`max_tokens` must be less than or equal to `32768`"
  (m) =>
    /max_(?:completion_)?tokens/i.test(m)
      ? positiveInt(/less than or equal to `?(\d+)`?/i.exec(m)?.[1])
      : undefined,
  geminiOutputLimit,
  // Others that speak of output tokens: "max_output_tokens ... maximum allowed (8192)"
  (m) =>
    /output[_ ]tokens/i.test(m) && !/input token/i.test(m)
      ? positiveInt(/(?:maximum|at most|up to|limit)\D{0,30}?(\d{3,})/i.exec(m)?.[1])
      : undefined,
];

/** What a max_tokens refusal in any of these wordings names, if it is one. */
export function outputLimitFromWords(message: string): OutputLimitHint | undefined {
  for (const pattern of CONTEXT_PATTERNS) {
    const hit = pattern(message);
    if (hit) return hit;
  }
  for (const pattern of FLOOR_PATTERNS) {
    const hit = pattern(message);
    if (hit) return hit;
  }
  for (const pattern of OUTPUT_PATTERNS) {
    const output = pattern(message);
    if (output !== undefined) return { output };
  }
  return undefined;
}

/** The sum of OpenRouter's "N of text input, K of tool input" split. */
export function inputsOf(split: string): number {
  let sum = 0;
  for (const [, n] of split.matchAll(/(\d+) of \w+ input/gi)) sum += Number(n);
  return sum;
}

function pair(hit: RegExpExecArray | null): WindowHint | undefined {
  const context = positiveInt(hit?.[1]);
  const prompt = positiveInt(hit?.[2]);
  return context && prompt && prompt < context ? { context, prompt } : undefined;
}

function window(context: string | undefined, floor: number): WindowHint | undefined {
  const size = positiveInt(context);
  return size
    ? { context: size, floor: Number.isFinite(floor) && floor > 0 ? floor : 1 }
    : undefined;
}
