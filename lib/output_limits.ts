// Claude Code asks for 32k-64k output tokens; many upstreams allow less and say so in their 400.
// What they name (read by each provider from its own wordings) is learned per upstream and model,
// and the request retried within it.
import type { OutputLimitHint, Provider } from "./providers/types.ts";

/**
 * What a max_tokens refusal leaves: a fixed output limit, or a context window shared with the
 * prompt (vLLM and friends), where what is left depends on each request's prompt.
 */
export type OutputLimit = Exclude<OutputLimitHint, { floor: number }>;

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

const MESSAGE_READ_MAX = 4096;

/**
 * What an upstream's error message says about the output tokens it accepts, if anything;
 * `promptChars` (the request's length) sizes a prompt the message does not count, guessed denser
 * after `refused` retries within such a guess were refused too.
 */
export function outputLimitFromError(
  provider: Pick<Provider, "outputLimitHint">,
  whole: string,
  promptChars = 0,
  refused = 0,
): OutputLimit | undefined {
  // Limits are named in a sentence or two; past that some wordings would take seconds to fail.
  const hint = provider.outputLimitHint?.(whole.slice(0, MESSAGE_READ_MAX));
  if (!hint || !("floor" in hint)) return hint;
  return promptInWindow(hint.context, hint.floor, promptChars, refused);
}

/** What the refusal leaves the request it refused. */
export function limitOf(hint: OutputLimit): number {
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

  learn(upstream: string, model: string, hint: OutputLimit, promptChars: number): void {
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
