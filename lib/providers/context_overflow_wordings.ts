// How OpenAI and the servers behind OpenAI-compatible APIs (vLLM, SGLang, TGI, llama.cpp,
// OpenRouter, DeepSeek...) say a prompt overflows the context window. Gemini's OpenAI-compatible
// endpoint, and routers in front of it, answer in Gemini's words.
import { positiveInt } from "./positive_int.ts";
import { geminiContextOverflow } from "./gemini_refusals.ts";
import { inputsOf } from "./output_limit_wordings.ts";
import type { ContextOverflow } from "./types.ts";

const WORDINGS: Array<(m: string) => ContextOverflow | undefined> = [
  // OpenAI, DeepSeek, OpenRouter, vLLM: "maximum context length is 128000 tokens. However,
  // your messages resulted in 130000 tokens" / "you requested 70000 tokens (70000 in the
  // messages, 0 in the completion)"
  (m) => {
    const max = positiveInt(/maximum context length is (\d+) tokens/i.exec(m)?.[1]);
    if (!max) return undefined;
    const prompt = positiveInt(/resulted in (\d+) tokens/i.exec(m)?.[1]) ??
      positiveInt(/\((\d+) in the messages/i.exec(m)?.[1]) ??
      positiveInt(/your request has (\d+) input tokens/i.exec(m)?.[1]) ??
      // vLLM 0.9: "However, you requested 9000 tokens in the messages"; recent vLLM: "your
      // prompt contains 10000 input tokens, for a total of"
      positiveInt(/you requested (\d+) tokens in the messages/i.exec(m)?.[1]) ??
      positiveInt(/your prompt contains (\d+) input tokens/i.exec(m)?.[1]) ??
      // OpenRouter: "you requested about 150000 tokens (136000 of text input, 64000 in the output)"
      (inputsOf(/requested about \d+ tokens \(([^)]{1,200})\)/i.exec(m)?.[1] ?? "") || undefined);
    if (prompt) return prompt >= max ? { tokens: prompt, max } : undefined;
    // Recent vLLM counts a prompt only up to the window ("contains at least 20961 input
    // tokens", or its characters): it comes here when no max_tokens left it room.
    return /your prompt contains (?:at least \d+ input tokens|\d+ characters)/i.test(m)
      ? {}
      : undefined;
  },
  // vLLM's renderer: "Input length (196905) exceeds model's maximum context length (196608)";
  // SGLang: "The input (50000 tokens) is longer than the model's context length (40960 tokens)",
  // its scheduler: "Input length (50000 tokens) exceeds the maximum allowed length (40960
  // tokens)"; llama.cpp: "request (50000 tokens) exceeds the available context size (40960
  // tokens)"
  (m) =>
    figures(
      /(?:input length|the input|request) \((\d+)(?: tokens)?\) (?:exceeds model's maximum context length|is longer than the model's context length|exceeds the maximum allowed length|exceeds the available context size) \((\d+)/i
        .exec(m),
    ),
  // SGLang: "maximum context length of 40960 tokens. You requested a total of 107000 tokens:
  // 43000 tokens from the input messages and 64000 tokens for the completion"
  (m) =>
    over(
      /maximum context length of (\d+) tokens\. You requested a total of \d+ tokens: (\d+) tokens from the input messages/i
        .exec(m),
    ),
  // TGI: "`inputs` tokens + `max_new_tokens` must be <= 32768. Given: 40000 `inputs` tokens", or
  // "`inputs` must have less than 32768 tokens. Given: 40000"
  (m) =>
    over(
      /`inputs` tokens \+ `max_new_tokens` must be <= (\d+)\. Given: (\d+) `inputs` tokens/i.exec(
        m,
      ),
    ) ??
      over(/`inputs` must have less than (\d+) tokens\. Given: (\d+)/i.exec(m)),
  // vLLM 0.16 and 0.17 count a prompt only up to the window ("You passed 40961 input tokens ...
  // the model's context length is only 40960 tokens"); vLLM refuses max_tokens over the whole
  // window ("cannot be greater than max_model_len"): either comes here when no max_tokens left
  // the prompt room.
  (m) =>
    /You passed \d+ input (?:tokens|characters) and requested \d+ output tokens\. However, the model's context length is only \d+ tokens|cannot be greater than max_model_len/i
        .test(m)
      ? {}
      : undefined,
  // OpenAI's newer models: "Input tokens exceed the configured limit of 272000 tokens. Your
  // messages resulted in 300000 tokens."
  (m) => {
    const max = positiveInt(/exceed the configured limit of (\d+) tokens/i.exec(m)?.[1]);
    return max ? { tokens: positiveInt(/resulted in (\d+) tokens/i.exec(m)?.[1]), max } : undefined;
  },
  geminiContextOverflow,
  // Mistral: "Prompt contains 40000 tokens and 0 draft tokens, too large for model with 32768
  // maximum context length"
  (m) =>
    figures(
      /Prompt contains (\d+) tokens.{0,80}?too large for model with (\d+) maximum context length/i
        .exec(m),
    ),
  // LM Studio: "Trying to keep the first 19006 tokens when context the overflows. However, the
  // model is loaded with context length of only 8192 tokens, which is not enough."
  (m) =>
    figures(
      /keep the first (\d+) tokens when context the overflows.{0,80}?context length of only (\d+) tokens/i
        .exec(m),
    ),
  // llama.cpp: "the request exceeds the available context size"; OpenAI-style servers that only
  // give the code.
  (m) =>
    /exceeds the available context size|context_length_exceeded|context window exceeded/i.test(m)
      ? {}
      : undefined,
];

/** Tokens over a maximum, from a match of [tokens, maximum]. */
function figures(hit: RegExpExecArray | null) {
  return hit ? { tokens: positiveInt(hit[1]), max: positiveInt(hit[2]) } : undefined;
}

/** A prompt over its maximum, from a match of [maximum, prompt]; a smaller one is not. */
function over(hit: RegExpExecArray | null) {
  const max = positiveInt(hit?.[1]);
  const tokens = positiveInt(hit?.[2]);
  return max && tokens && tokens >= max ? { tokens, max } : undefined;
}

/** Whether a message in any of these wordings says the prompt overflows, with its figures. */
export function contextOverflowFromWords(message: string): ContextOverflow | undefined {
  for (const wording of WORDINGS) {
    const hit = wording(message);
    if (hit) return hit;
  }
  return undefined;
}
