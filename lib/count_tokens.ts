// count_tokens: the upstream's own count where it has one, else the local estimate.
import type { MessagesRequest } from "./anthropic.ts";
import { upstreamInfoHeaders } from "./anthropic_answer.ts";
import { mapModel } from "./model_map.ts";
import { providerFor } from "./providers/registry.ts";
import { healthNotRecorded } from "./proxy.ts";
import { refusalRetry } from "./refusal_retry.ts";
import type { Services } from "./services.ts";
import { estimateTokens } from "./token_estimate.ts";
import { errorText } from "./upstream_fetch.ts";
import { shownFailure } from "./observability/redact.ts";
import { maskKey } from "./secret_mask.ts";

const UPSTREAM_COUNT_TIMEOUT = 10_000;

/** The answer to a count: `{input_tokens}`, or an Anthropic-compatible upstream's own, whole. */
export interface TokenCount {
  body: Record<string, unknown>;
  /** The upstream's rate-limit headers and request id, as a passed-through answer carries them. */
  headers?: Record<string, string>;
}

export async function countTokens(
  s: Services,
  body: MessagesRequest,
  raw: string,
  clientHeaders: Headers,
  requestId?: string,
  clientQuery = "",
): Promise<TokenCount> {
  const estimate = () => ({ body: { input_tokens: estimateTokens(body) } });
  const { doc } = s.store.snapshot;
  const upstream = doc.upstream[doc.currentUpstream];
  const provider = upstream && providerFor(upstream.serviceType);
  if (!upstream || !provider?.countTokensRequest || !provider.parseCountTokens) return estimate();
  const model = mapModel(body.model, upstream.models);
  const [candidate] = s.pool.order(upstream, doc.loadBalance, model, false);
  if (!candidate) return estimate();
  // What this upstream's model was learned to refuse stays out of the count's request too.
  const refusal = refusalRetry(s, upstream, model, clientHeaders);
  try {
    const req = provider.countTokensRequest(body, {
      upstream,
      model,
      requestedModel: body.model,
      apiKey: candidate.key,
      stream: false,
      clientHeaders: refusal.clientHeaders,
      clientQuery,
      dropFields: refusal.dropFields,
    }, raw);
    const res = await s.fetch(req.url, {
      method: req.method ?? "POST",
      headers: req.headers,
      body: req.body,
      signal: AbortSignal.timeout(Math.min(UPSTREAM_COUNT_TIMEOUT, s.config.requestTimeout)),
    });
    if (!res.ok) {
      const failure = provider.parseError(res.status, await errorText(res), res.headers);
      // A key the upstream refuses is refused for everything: disabled as a request's refusal
      // disables it (it showed as active while every count through it failed). Other faults
      // (a count's own rate limit) leave the key to the requests.
      if (failure.keyFault === "auth") {
        const shown = shownFailure(failure, s.log.redact);
        s.log.log("warn", "upstream refused a key for a token count: the key is disabled", {
          requestId,
          upstream: upstream.name,
          key: maskKey(candidate.key),
          status: failure.status,
        });
        await s.pool.recordFailure(upstream, candidate, model, shown).catch(
          healthNotRecorded(s, requestId),
        );
      }
      throw new Error(`upstream count_tokens answered ${res.status}`);
    }
    const json = await res.json();
    const n = provider.parseCountTokens(json);
    // Only a count a client can use: not -1, 2.5, 1e308, or 1e999 (Infinity, sent out as null).
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`upstream count_tokens answered ${n}`);
    // A passthrough's answer keeps what else it says (context_management's original count).
    return provider.passthrough
      ? { body: json, headers: upstreamInfoHeaders(res.headers, s.log.redact) }
      : { body: { input_tokens: n } };
  } catch (err) {
    s.log.log("debug", "upstream token count failed, using the local estimate", {
      requestId,
      upstream: upstream.name,
      error: s.log.redact(String(err)),
    });
    return estimate();
  }
}
