// Anthropic Messages ⇄ Gemini generateContent / streamGenerateContent (Developer API, v1beta).
import type { MessageResponse, MessagesRequest } from "../anthropic.ts";
import { answerMessage } from "../answer_shape.ts";
import { withEncodedMember } from "../json_bytes.ts";
import { isObject } from "../json_value.ts";
import { UpstreamError } from "./upstream_error.ts";
import { withClientAgent } from "./client_identity.ts";
import { Assembler, usageFromGemini } from "./gemini_answer.ts";
import { Collector } from "./gemini_collector.ts";
import { geminiErrorFailure, geminiFailure } from "./gemini_errors.ts";
import { modelName, type RequestState } from "./gemini_call.ts";
import { buildBody } from "./gemini_request.ts";
import { GeminiStreamTranslator, writerSink } from "./gemini_stream.ts";
import { fingerprint, issuingKey } from "./gemini_thought_signatures.ts";
import { contextOverflowFromWords } from "./context_overflow_wordings.ts";
import { outputLimitFromWords } from "./output_limit_wordings.ts";
import type { AnthropicStreamWriter } from "./stream_writer.ts";
import type { CallContext, Provider, StreamTranslator, UpstreamRequest } from "./types.ts";
import { pathSegment, splitQuery, withQuery } from "../url_query.ts";

type Obj = Record<string, unknown>;

// The pipeline hands the same context object to buildRequest and to the response side.
const states = new WeakMap<CallContext, RequestState>();

function stateFor(ctx: CallContext): RequestState {
  return states.get(ctx) ?? { names: new Map(), jsonPaths: new Map(), carryText: false };
}

/**
 * `{root}/{path}`: the API root (`…/v1beta`) whether or not the base URL already names a version,
 * then the base URL's own query (a gateway's `?key=`), then `query`.
 */
export function geminiUrl(baseUrl: string | undefined, path: string, query = ""): string {
  const { path: root, query: own } = splitQuery(baseUrl || geminiProvider.defaultBaseUrl);
  const base = root.replace(/\/+$/, "");
  const api = /\/v1(alpha|beta\d*)?$/.test(base) ? base : `${base}/v1beta`;
  return withQuery(`${api}/${path}${own}`, query);
}

function methodUrl(ctx: CallContext, method: string, query?: string): string {
  return geminiUrl(
    ctx.upstream.baseUrl,
    `models/${pathSegment(modelName(ctx.model))}:${method}`,
    query,
  );
}

export const geminiProvider: Provider = {
  kinds: ["gemini"],
  label: "Google Gemini",
  defaultBaseUrl: "https://generativelanguage.googleapis.com",

  buildRequest(body: MessagesRequest, ctx: CallContext): UpstreamRequest {
    const [gemini, state, toolsJson] = buildBody(body, ctx);
    states.set(ctx, state);
    if (toolsJson) delete gemini.tools;
    const json = JSON.stringify(gemini);
    const url = ctx.stream
      ? methodUrl(ctx, "streamGenerateContent", "?alt=sse")
      : methodUrl(ctx, "generateContent");
    return {
      url,
      method: "POST",
      headers: withClientAgent(
        { "content-type": "application/json", "x-goog-api-key": ctx.apiKey },
        ctx.clientHeaders,
      ),
      body: toolsJson ? withEncodedMember(json, "tools", toolsJson) : json,
    };
  },

  parseResponse(json: unknown, ctx: CallContext): MessageResponse {
    // Asked without alt=sse (a relay that drops the query), a stream comes as a JSON array of its
    // chunks: read in order, as the stream would have been.
    const chunks = Array.isArray(json) ? json.filter(isObject) : [isObject(json) ? json : {}];
    const sink = new Collector();
    const asm = new Assembler(sink, stateFor(ctx), fingerprint(ctx));
    let cand: Record<string, unknown> | undefined;
    let reason: string | undefined;
    let grounding: unknown;
    let feedback: Record<string, unknown> = {};
    let usageMetadata: unknown;
    for (const res of chunks) {
      if (isObject(res.error)) throw new UpstreamError(geminiFailure(0, res.error, new Headers()));
      const c = Array.isArray(res.candidates) && isObject(res.candidates[0])
        ? res.candidates[0]
        : undefined;
      if (c) {
        cand = c;
        asm.parts(isObject(c.content) ? c.content.parts : undefined);
        if (typeof c.finishReason === "string") reason = c.finishReason;
        if (c.groundingMetadata !== undefined) grounding = c.groundingMetadata;
      }
      if (isObject(res.promptFeedback)) feedback = res.promptFeedback;
      if (res.usageMetadata !== undefined) usageMetadata = res.usageMetadata;
    }
    asm.grounding(grounding);
    const outcome = asm.finish(
      // A reason that is no string is read as none, as the stream reads it.
      cand ? reason ?? "STOP" : undefined,
      typeof feedback.blockReason === "string" ? feedback.blockReason : undefined,
      typeof cand?.finishMessage === "string" ? cand.finishMessage : undefined,
    );
    if ("failure" in outcome) throw new UpstreamError(outcome.failure);
    const usage = usageFromGemini(usageMetadata);
    return answerMessage(ctx.requestedModel, sink.blocks, outcome.stop, outcome.sequence ?? null, {
      ...usage,
      input_tokens: usage.input_tokens ?? 0,
      output_tokens: usage.output_tokens ?? 0,
      server_tool_use: { web_search_requests: sink.searches },
    });
  },

  createStreamTranslator(ctx: CallContext, out: AnthropicStreamWriter): StreamTranslator {
    return new GeminiStreamTranslator(
      out,
      new Assembler(writerSink(out), stateFor(ctx), fingerprint(ctx)),
    );
  },

  parseError: geminiErrorFailure,

  issuingKey,

  // Gemini's own wordings are among these; gateways that speak Gemini's format (new-api,
  // one-api) may relay any server's words, as OpenAI-compatible ones do.
  outputLimitHint: outputLimitFromWords,
  contextOverflow: contextOverflowFromWords,

  countTokensRequest(body: MessagesRequest, ctx: CallContext): UpstreamRequest {
    const [gemini] = buildBody(body, ctx);
    const inner: Obj = { model: `models/${modelName(ctx.model)}`, contents: gemini.contents };
    if (!gemini.contents.length) inner.contents = [{ role: "user", parts: [{ text: "." }] }];
    if (gemini.systemInstruction) inner.systemInstruction = gemini.systemInstruction;
    if (gemini.tools) inner.tools = gemini.tools;
    return {
      url: methodUrl(ctx, "countTokens"),
      method: "POST",
      headers: withClientAgent(
        { "content-type": "application/json", "x-goog-api-key": ctx.apiKey },
        ctx.clientHeaders,
      ),
      body: JSON.stringify({ generateContentRequest: inner }),
    };
  },

  parseCountTokens(json: unknown): number {
    // As sent: a count no client can use (2.5, 1e308) gives way to the local estimate.
    return isObject(json) && typeof json.totalTokens === "number" ? json.totalTokens : NaN;
  },

  modelsRequest(ctx) {
    return {
      url: geminiUrl(ctx.upstream.baseUrl, "models", "?pageSize=1000"),
      method: "GET",
      headers: withClientAgent({ "x-goog-api-key": ctx.apiKey }, ctx.clientHeaders),
    };
  },

  parseModels(json) {
    const models = isObject(json) && Array.isArray(json.models) ? json.models : [];
    return models.filter((m): m is Obj =>
      isObject(m) && typeof m.name === "string" &&
      // Embedding and other models cannot answer a conversation.
      (!Array.isArray(m.supportedGenerationMethods) ||
        m.supportedGenerationMethods.includes("generateContent"))
    ).map((m) => {
      const id = modelName(String(m.name));
      return {
        type: "model" as const,
        id,
        display_name: typeof m.displayName === "string" ? m.displayName : id,
        created_at: "1970-01-01T00:00:00.000Z",
      };
    });
  },
};
