// Anthropic Messages ⇄ OpenAI Chat Completions, for api.openai.com and compatible servers.
import { countOr0 } from "../json_value.ts";
import { stateFor } from "./openai_call_state.ts";
import { contextOverflowFromWords } from "./context_overflow_wordings.ts";
import { openaiErrorFailure } from "./openai_errors.ts";
import { outputLimitFromWords } from "./output_limit_wordings.ts";
import { openaiRefusedFields } from "./openai_refused_fields.ts";
import { buildRequest } from "./openai_request.ts";
import { parseResponse } from "./openai_answer.ts";
import { authHeaders, chatCompletionsUrl, DEFAULT_BASE_URL } from "./openai_server.ts";
import { OpenAIStreamTranslator } from "./openai_stream.ts";
import type { Provider } from "./types.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

export const openaiProvider: Provider = {
  kinds: ["openai", "custom"],
  label: "OpenAI Chat Completions",
  variantLabels: { custom: "OpenAI-compatible server (DeepSeek, vLLM, Ollama, Groq…)" },
  defaultBaseUrl: DEFAULT_BASE_URL,
  buildRequest,
  parseResponse,
  createStreamTranslator(ctx, out) {
    return new OpenAIStreamTranslator(out, stateFor(ctx));
  },
  parseError: openaiErrorFailure,
  outputLimitHint: outputLimitFromWords,
  contextOverflow: contextOverflowFromWords,
  refusedFields: openaiRefusedFields,

  modelsRequest(ctx) {
    const headers = authHeaders(ctx, {});
    const url = chatCompletionsUrl(ctx.upstream.baseUrl).replace(
      /\/chat\/completions(?=\?|$)/i,
      "/models",
    );
    return { url, method: "GET", headers };
  },

  parseModels(json) {
    const data = (json as Json)?.data;
    if (!Array.isArray(data)) return [];
    return data.filter((m) => typeof m?.id === "string").map((m) => ({
      type: "model" as const,
      id: m.id,
      display_name: m.id,
      created_at: new Date(countOr0(m.created) * 1000).toISOString(),
    }));
  },
};
