// Claude Code asks for 32k-64k output tokens; many upstreams allow less and say so in their 400.
// The limit they name is learned per upstream and model, and the request retried within it.

const PATTERNS: Array<(m: string) => number | undefined> = [
  // DeepSeek: "the valid range of max_tokens is [1, 8192]"
  (m) => num(/valid range of max_(?:completion_)?tokens is \[\d+,\s*(\d+)\]/i.exec(m)?.[1]),
  // OpenAI: "This model supports at most 16384 completion tokens"
  (m) => num(/supports at most (\d+) completion tokens/i.exec(m)?.[1]),
  // Anthropic: "max_tokens: 64000 > 32000, which is the maximum allowed number of output tokens"
  (m) => num(/> (\d+), which is the maximum allowed number of output tokens/i.exec(m)?.[1]),
  // Groq and others: "`max_tokens` must be less than or equal to `32768`"
  (m) =>
    /max_(?:completion_)?tokens/i.test(m)
      ? num(/less than or equal to `?(\d+)`?/i.exec(m)?.[1])
      : undefined,
  // Gemini and others that speak of output tokens: "max_output_tokens ... maximum allowed (8192)"
  (m) =>
    /output[_ ]tokens/i.test(m) && !/input token/i.test(m)
      ? num(/(?:maximum|at most|up to|limit)\D{0,30}?(\d{3,})/i.exec(m)?.[1])
      : undefined,
  // vLLM: "maximum context length is 8192 tokens. However, you requested 64010 tokens (10 in the
  // messages, 64000 in the completion)": what is left after the prompt.
  (m) => {
    const hit = /maximum context length is (\d+) tokens[^(]*\((\d+) in the messages/i.exec(m);
    const left = hit ? Number(hit[1]) - Number(hit[2]) : undefined;
    return left && left > 0 ? left : undefined;
  },
];

function num(text: string | undefined): number | undefined {
  const n = text === undefined ? NaN : Number(text);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** The most output tokens an upstream's error message says it accepts, if it names one. */
export function outputLimitFromError(message: string): number | undefined {
  for (const pattern of PATTERNS) {
    const limit = pattern(message);
    if (limit !== undefined) return limit;
  }
  return undefined;
}

/** Learned output limits by upstream and model, per instance. */
export class OutputLimits {
  #caps = new Map<string, number>();

  get(upstream: string, model: string): number | undefined {
    return this.#caps.size ? this.#caps.get(`${upstream}\u0000${model}`) : undefined;
  }

  learn(upstream: string, model: string, limit: number): void {
    if (this.#caps.size > 1_000) this.#caps.clear();
    this.#caps.set(`${upstream}\u0000${model}`, limit);
  }
}
