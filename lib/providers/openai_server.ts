// Which OpenAI-compatible server an upstream is: where its endpoint is, how it takes its key, and
// the server and model families (Azure, DeepSeek, Kimi, Mistral) whose rules a request must keep.
import { splitQuery } from "../url_query.ts";
import { withClientAgent } from "./client_identity.ts";
import type { CallContext } from "./types.ts";

export const DEFAULT_BASE_URL = "https://api.openai.com";

export type Kind = "openai" | "custom";

/**
 * `{base}/v1/chat/completions`, without doubling a version path or a full endpoint; a query
 * (Azure's `?api-version=`) stays at the end, and an Azure deployment's path takes no version.
 * A version anywhere in the path is the server's own (Google's `/v1beta/openai`, Vertex AI's
 * `/v1/projects/…/endpoints/openapi`, Cloudflare's gateway `/v1/{account}/{gateway}/groq`), but for
 * the providers Cloudflare's gateway serves under their own `/v1`; GitHub Models' `/inference`
 * takes none either.
 */
export function chatCompletionsUrl(baseUrl: string | undefined): string {
  const { path, query } = splitQuery(baseUrl?.trim() || DEFAULT_BASE_URL);
  const base = path.replace(/\/+$/, "");
  if (/\/chat\/completions$/i.test(base)) return base + query;
  const pathPart = base.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, "");
  if (
    !CLOUDFLARE_V1.test(base) &&
    (/\/v\d+(?:alpha|beta)?\d*(?:\/|$)/i.test(pathPart) ||
      /\/openai\/deployments\/[^/]+$/i.test(base) || GITHUB_MODELS.test(base))
  ) {
    return `${base}/chat/completions${query}`;
  }
  return `${base}/v1/chat/completions${query}`;
}

const CLOUDFLARE_V1 =
  /^https?:\/\/gateway\.ai\.cloudflare\.com\/.*\/(?:workers-ai|mistral|openrouter)$/i;
const GITHUB_MODELS = /^https?:\/\/models\.github\.ai(?:\/orgs\/[^/]+)?\/inference$/i;

/** Azure OpenAI takes its keys in `api-key`; a bearer token there must be an Entra ID token. */
export function authHeaders(
  ctx: Pick<CallContext, "apiKey" | "upstream"> & { clientHeaders?: Headers },
  headers: Record<string, string>,
): Record<string, string> {
  withClientAgent(headers, ctx.clientHeaders);
  if (!ctx.apiKey) return headers;
  if (AZURE_HOST.test(hostOf(ctx))) headers["api-key"] = ctx.apiKey;
  else headers.authorization = `Bearer ${ctx.apiKey}`;
  return headers;
}

const AZURE_HOST =
  /\.(openai\.azure\.com|cognitiveservices\.azure\.com|services\.ai\.azure\.com)(:|$)/;

export function kindOf(ctx: CallContext): Kind {
  return ctx.upstream.serviceType === "openai" ? "openai" : "custom";
}

function hostOf(ctx: Pick<CallContext, "upstream">): string {
  return /^[a-z]+:\/\/([^/?#]*)/i.exec(ctx.upstream.baseUrl ?? "")?.[1].toLowerCase() ?? "";
}

/** DeepSeek, by its host or by a model name that says so (behind a router or a proxy). */
function isDeepSeek(ctx: CallContext): boolean {
  return /deepseek/i.test(ctx.model) || hostOf(ctx).includes("deepseek");
}

/** DeepSeek's own API, which takes its `thinking` switch (other hosts of its models may not). */
export function isDeepSeekApi(ctx: CallContext): boolean {
  return /(^|\.)deepseek\.com(:|$)/.test(hostOf(ctx));
}

/**
 * Servers that need the reasoning of earlier tool-call turns back, or refuse the turn: DeepSeek
 * and Moonshot's Kimi (K2.5 on: "reasoning_content is missing in assistant tool call message").
 * Groq and Cerebras, which host such models too, refuse the field itself. Under `openai` only
 * their own hosts count: a model's name says nothing of an OpenAI server, which refuses the field.
 */
export function wantsReasoningBack(ctx: CallContext): boolean {
  const host = hostOf(ctx);
  if (STRICT_HOST.test(host)) return false;
  if (/deepseek|moonshot|kimi\.com/.test(host)) return true;
  return kindOf(ctx) === "custom" && (isDeepSeek(ctx) || /kimi/i.test(ctx.model));
}

const STRICT_HOST = /(^|\.)(groq\.com|cerebras\.ai)(:|$)/;

/**
 * Servers that take OpenRouter's `reasoning_details` back on an assistant turn (Gemini 3 through
 * OpenRouter refuses a tool loop without them): any but those known to refuse unknown fields.
 * Only a conversation that had them from such a server holds any.
 */
export function takesReasoningDetails(ctx: CallContext): boolean {
  const host = hostOf(ctx);
  return kindOf(ctx) === "custom" && !STRICT_HOST.test(host) && !isMistralApi(ctx) &&
    !isGoogle(ctx);
}

/** Google's OpenAI-compatible endpoint (Gemini API or Vertex AI), which checks thought signatures. */
export function isGoogle(ctx: CallContext): boolean {
  return /(^|\.)(generativelanguage|aiplatform)\.googleapis\.com(:|$)/.test(hostOf(ctx));
}

/** Mistral's own API, which refuses (422) any field outside its list: `stream_options`, `user`… */
export function isMistralApi(ctx: CallContext): boolean {
  return /(^|\.)mistral\.ai(:|$)/.test(hostOf(ctx));
}

/**
 * A Mistral model, on Mistral's API or another server (vLLM checks its messages with
 * mistral-common too): tool call ids of 9 letters and digits, no user turn right after a result.
 */
export function isMistral(ctx: CallContext): boolean {
  return isMistralApi(ctx) ||
    /mistral|devstral|magistral|codestral|ministral|mixtral|pixtral/i.test(ctx.model);
}
