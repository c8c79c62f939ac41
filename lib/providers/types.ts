// The contract between the proxy pipeline and each upstream wire format.
import type { ErrorType, MessageResponse, MessagesRequest } from "../anthropic.ts";
import type { SseMessage } from "../sse.ts";
import type { AnthropicStreamWriter } from "./stream_writer.ts";

/** What went wrong upstream, with enough to decide about the key and the retry. */
export interface UpstreamFailure {
  status: number;
  type: ErrorType;
  message: string;
  /** Whose fault: the key's (rate limit or auth), a passing upstream fault, or the request's (undefined). */
  keyFault?: "rate_limit" | "auth" | "transient";
  retryAfterMs?: number;
  /** Headers of the upstream's error the client gets with it (a passthrough's rate limits). */
  headers?: Record<string, string>;
}

/** One entry of `GET /v1/models`. */
export interface ModelInfo {
  type: "model";
  id: string;
  display_name: string;
  created_at: string;
}

/** The names an OpenAI-style upstream may take its output limit under. */
export const MAX_TOKENS_FIELDS = ["max_tokens", "max_completion_tokens"] as const;
export type MaxTokensField = (typeof MAX_TOKENS_FIELDS)[number];

/** One upstream as stored in the configuration document. */
export interface UpstreamConfig {
  name: string;
  baseUrl: string;
  serviceType: string;
  apiKeys: string[];
  models?: Record<string, string>;
  fallback?: string;
  maxTokens?: number;
  maxTokensField?: MaxTokensField;
  [extra: string]: unknown;
}

/** Everything a provider needs to know about one attempt. */
export interface CallContext {
  upstream: UpstreamConfig;
  /** The upstream's model name, after the model map. */
  model: string;
  /** The model name the client asked for; responses report this one. */
  requestedModel: string;
  apiKey: string;
  stream: boolean;
  /** The client's request headers (the passthrough forwards `anthropic-*`). */
  clientHeaders: Headers;
  /** The client's query string with its `?`, or "" (the passthrough forwards `?beta=true`). */
  clientQuery?: string;
  /**
   * The history goes without its thinking blocks: the upstream refused them (`refusedThinking`);
   * `"off"`, and thinking off too.
   */
  withoutThinking?: boolean | "off";
  /** Body fields the upstream refused (`refusedFields`), left out as `dropFields` says. */
  dropFields?: readonly string[];
}

export interface UpstreamRequest {
  url: string;
  method?: string;
  headers: Record<string, string>;
  /** JSON text, or its UTF-8 bytes when parts of it were encoded ahead. */
  body?: string | Uint8Array<ArrayBuffer>;
}

/**
 * What a max_tokens refusal names: the output tokens the upstream takes, or a context window
 * shared with the prompt, with the prompt's tokens or, where it counted them only so far, a floor.
 */
export type OutputLimitHint =
  | { output: number }
  | { context: number; prompt: number }
  | { context: number; floor: number };

/** A prompt over the context window, with its tokens and the window where the refusal names them. */
export interface ContextOverflow {
  tokens?: number;
  max?: number;
}

/** Turns upstream SSE events into Anthropic events written to the writer. */
export interface StreamTranslator {
  push(event: SseMessage): void;
  /** A JSON object the upstream wrote between the events without `data:` (Gemini's errors). */
  pushJson?(json: Record<string, unknown>): void;
  /** The upstream body ended. A stream that never finished must end with an error here. */
  end(): void;
}

export interface Provider {
  /**
   * The `serviceType` values this provider serves; the first is its canonical name, the others
   * aliases or, named in `variantLabels`, variants it serves in their own way.
   */
  readonly kinds: readonly string[];
  readonly label: string;
  /** The admin's names for the kinds that are variants of their own (`custom`, not `claude`). */
  readonly variantLabels?: Readonly<Record<string, string>>;
  readonly defaultBaseUrl: string;
  /**
   * Bytes pass through untouched: the pipeline forwards the upstream's body as it is (Anthropic
   * upstreams) instead of translating it.
   */
  readonly passthrough?: boolean;

  /** The upstream request for a Messages request. `raw` is the client's body text. */
  buildRequest(body: MessagesRequest, ctx: CallContext, raw: string): UpstreamRequest;
  /** A non-streaming upstream JSON answer as an Anthropic message. */
  parseResponse(json: unknown, ctx: CallContext): MessageResponse;
  /** A translator for one streamed answer, writing to `out`. */
  createStreamTranslator(ctx: CallContext, out: AnthropicStreamWriter): StreamTranslator;
  /** An upstream error answer (status and body text), classified. */
  parseError(status: number, bodyText: string, headers: Headers): UpstreamFailure;
  /** What a 400's message, in this upstream's wordings, says of the max_tokens it takes. */
  outputLimitHint?(message: string): OutputLimitHint | undefined;
  /** Whether a 400's message, in this upstream's wordings, says the prompt overflows its window. */
  contextOverflow?(message: string): ContextOverflow | undefined;
  /**
   * The `anthropic-beta` flags among `sent` that a 400's message says the upstream refused ("*"
   * when it names none), or undefined for any other 400: for upstreams sent the client's flags.
   */
  refusedBetas?(message: string, sent: string[]): string[] | undefined;
  /**
   * Whether a 400's message refuses the thinking blocks of the history (signatures another server
   * made): the request then goes once more, on the same key, without them; `"off"` when the
   * upstream takes no such history with thinking on (DeepSeek wants every tool turn's thinking
   * back), and the request goes with thinking off too.
   */
  refusedThinking?(message: string): boolean | "off";
  /**
   * The body fields a 400's message says the upstream does not know, as `dropFields` patterns:
   * for upstreams sent the client's body, which then goes without them.
   */
  refusedFields?(message: string): string[] | undefined;

  /**
   * The key among `keys` that issued what the history carries back and only it takes (Gemini's
   * thought signatures): tried first, whatever the strategy.
   */
  issuingKey?(body: MessagesRequest, model: string, keys: readonly string[]): string | undefined;

  /** The upstream's own token count request, where it has one. */
  countTokensRequest?(body: MessagesRequest, ctx: CallContext, raw: string): UpstreamRequest;
  parseCountTokens?(json: unknown): number;
  /** The upstream's own model list request, where it has one. */
  modelsRequest?(ctx: Omit<CallContext, "model" | "requestedModel" | "stream">): UpstreamRequest;
  /** That list in Anthropic's terms; without it (the passthrough) the answer goes out as it is. */
  parseModels?(json: unknown): ModelInfo[];
  /** The upstream's own answer about one model (the passthrough's, relayed as it is). */
  modelRequest?(
    ctx: Omit<CallContext, "model" | "requestedModel" | "stream">,
    id: string,
  ): UpstreamRequest;
}
