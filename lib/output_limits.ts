// Claude Code asks for 32k-64k output tokens; many upstreams allow less and say so in their 400.
// What they name is learned per upstream and model, and the request retried within it.
import { positiveInt } from "./positive_int.ts";

/**
 * What an upstream's max_tokens error says: a fixed output limit, or a context window shared
 * with the prompt (vLLM and friends), where what is left depends on each request's prompt.
 */
export type OutputLimitHint =
  | { output: number }
  | { context: number; prompt: number };

const OUTPUT_PATTERNS: Array<(m: string) => number | undefined> = [
  // DeepSeek: "the valid range of max_tokens is [1, 8192]"
  (m) => positiveInt(/valid range of max_(?:completion_)?tokens is \[\d+,\s*(\d+)\]/i.exec(m)?.[1]),
  // OpenAI: "This model supports at most 16384 completion tokens"
  (m) => positiveInt(/supports at most (\d+) completion tokens/i.exec(m)?.[1]),
  // Anthropic: "max_tokens: 64000 > 32000, which is the maximum allowed number of output tokens"
  (m) => positiveInt(/> (\d+), which is the maximum allowed number of output tokens/i.exec(m)?.[1]),
  // Groq and others: "`max_tokens` must be less than or equal to `32768`"
  (m) =>
    /max_(?:completion_)?tokens/i.test(m)
      ? positiveInt(/less than or equal to `?(\d+)`?/i.exec(m)?.[1])
      : undefined,
  // Gemini: "it has a maxOutputTokens value of 32000 but the supported range is from 1
  // (inclusive) to 8193 (exclusive)"
  (m) => {
    const end = positiveInt(
      /maxOutputTokens value of \d+ but the supported range is from \d+ \(inclusive\) to (\d+) \(exclusive\)/i
        .exec(m)?.[1],
    );
    return end && end > 1 ? end - 1 : undefined;
  },
  // Others that speak of output tokens: "max_output_tokens ... maximum allowed (8192)"
  (m) =>
    /output[_ ]tokens/i.test(m) && !/input token/i.test(m)
      ? positiveInt(/(?:maximum|at most|up to|limit)\D{0,30}?(\d{3,})/i.exec(m)?.[1])
      : undefined,
];

const CONTEXT_PATTERNS: Array<(m: string) => { context: number; prompt: number } | undefined> = [
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
 * Windows whose refusal names only a floor of the prompt, as [window, floor]: vLLM counts a
 * prompt only as far as the window allows, and not at all when max_tokens leaves it no room.
 */
const FLOOR_PATTERNS: Array<(m: string) => [number, number] | undefined> = [
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

function window(context: string | undefined, floor: number): [number, number] | undefined {
  const size = positiveInt(context);
  return size ? [size, Number.isFinite(floor) && floor > 0 ? floor : 1] : undefined;
}

/** Characters a token a prompt the upstream did not count is guessed at, and after a refusal. */
const CHARS_PER_TOKEN = 4;
const CHARS_PER_TOKEN_DENSER = 3;

/** The prompt of a request refused with only a floor of it named, guessed from its length. */
function promptInWindow(context: number, floor: number, promptChars: number, refused: number) {
  // A floor above the guess is a prompt denser than guessed: a tenth more than the floor, then.
  const guess = Math.ceil(promptChars / (refused ? CHARS_PER_TOKEN_DENSER : CHARS_PER_TOKEN));
  let prompt = guess > floor ? guess : Math.ceil(floor * 1.1);
  // Refused within the first guess, a prompt the denser one fills the window with lies between
  // the floor and the window: half way.
  if (refused && prompt >= context) prompt = Math.ceil((floor + context) / 2);
  return prompt < context ? { context, prompt } : undefined;
}

/** The sum of OpenRouter's "N of text input, K of tool input" split. */
export function inputsOf(split: string): number {
  let sum = 0;
  for (const [, n] of split.matchAll(/(\d+) of \w+ input/gi)) sum += Number(n);
  return sum;
}

function pair(hit: RegExpExecArray | null): { context: number; prompt: number } | undefined {
  const context = positiveInt(hit?.[1]);
  const prompt = positiveInt(hit?.[2]);
  return context && prompt && prompt < context ? { context, prompt } : undefined;
}

const MESSAGE_READ_MAX = 4096;

/**
 * What an upstream's error message says about the output tokens it accepts, if anything;
 * `promptChars` (the request's length) sizes a prompt the message does not count, guessed denser
 * after `refused` retries within such a guess were refused too.
 */
export function outputLimitFromError(
  whole: string,
  promptChars = 0,
  refused = 0,
): OutputLimitHint | undefined {
  // Limits are named in a sentence or two; past that some patterns would take seconds to fail.
  const message = whole.slice(0, MESSAGE_READ_MAX);
  for (const pattern of CONTEXT_PATTERNS) {
    const hit = pattern(message);
    if (hit) return hit;
  }
  for (const pattern of FLOOR_PATTERNS) {
    const hit = pattern(message);
    if (hit) return promptInWindow(hit[0], hit[1], promptChars, refused);
  }
  for (const pattern of OUTPUT_PATTERNS) {
    const output = pattern(message);
    if (output !== undefined) return { output };
  }
  return undefined;
}

/** What the refusal leaves the request it refused. */
export function limitOf(hint: OutputLimitHint): number {
  return "output" in hint ? hint.output : hint.context - hint.prompt;
}

type Learned = { output: number } | { context: number; charsPerToken: number };

/** Upstream and model pairs remembered at most; far more than any configuration uses. */
const LEARNED_MAX = 1_000;

/** A prompt's tokens guessed this much high, so a request a bit denser than the last still fits. */
const SAFETY = 1.05;

/**
 * Learned output limits and context windows by upstream and model, per instance. A window is
 * shared with the prompt: each request gets what its own prompt leaves, its tokens guessed from
 * its length at the characters per token the refused request had.
 */
export class OutputLimits {
  #learned = new Map<string, Learned>();

  /** The max_tokens cap for a request of `promptChars` characters, if one was learned. */
  capFor(upstream: string, model: string, promptChars: number): number | undefined {
    const learned = this.#learned.size ? this.#learned.get(`${upstream}\u0000${model}`) : undefined;
    if (!learned) return undefined;
    if ("output" in learned) return learned.output;
    const left = learned.context - Math.ceil(promptChars / learned.charsPerToken * SAFETY);
    // A prompt that fills the window is the upstream's to refuse, with a message Claude Code
    // answers by compacting the conversation.
    return left > 0 ? left : undefined;
  }

  learn(upstream: string, model: string, hint: OutputLimitHint, promptChars: number): void {
    // The model is the client's to name (unmapped names go through): the memory is bounded.
    if (this.#learned.size > LEARNED_MAX) this.#learned.clear();
    this.#learned.set(
      `${upstream}\u0000${model}`,
      "output" in hint
        ? hint
        : { context: hint.context, charsPerToken: Math.max(1, promptChars) / hint.prompt },
    );
  }
}
