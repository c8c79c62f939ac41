// A tiny request through one key: the disabled-key check uses it, and the admin's Test, which also
// disables a key the upstream refuses.
import type { MessagesRequest } from "./anthropic.ts";
import { mapModel } from "./model_map.ts";
import { KEY_CHECK_AGENT } from "./providers/client_identity.ts";
import { providerFor } from "./providers/registry.ts";
import type { CallContext, UpstreamConfig } from "./providers/types.ts";
import type { Services } from "./services.ts";
import { send } from "./upstream_fetch.ts";
import { healthId } from "./key_pool.ts";
import { clip } from "./secret_mask.ts";

export interface ProbeResult {
  ok: boolean;
  /** The upstream refused the key itself (401, 403, an invalid key): it is to be disabled. */
  rejected?: boolean;
  status: number;
  message: string;
  ms: number;
}

export async function probeKey(
  s: Services,
  upstream: UpstreamConfig,
  key: string,
): Promise<ProbeResult> {
  const provider = providerFor(upstream.serviceType);
  if (!provider) return { ok: false, status: 0, message: "unknown serviceType", ms: 0 };
  const model = mapModel("claude-3-5-haiku-latest", upstream.models);
  const body: MessagesRequest = {
    model,
    max_tokens: 8,
    messages: [{ role: "user", content: "Reply with OK." }],
  };
  const ctx: CallContext = {
    upstream,
    model,
    requestedModel: model,
    apiKey: key,
    stream: false,
    clientHeaders: new Headers({ "user-agent": KEY_CHECK_AGENT }),
  };
  const started = s.now();
  const sent = await send(
    s,
    provider.buildRequest(body, ctx, JSON.stringify(body)),
    Math.min(30_000, s.config.requestTimeout),
    undefined,
  );
  if (!("res" in sent)) return { ok: false, status: sent.status, message: sent.message, ms: 0 };
  sent.stopTimer();
  const text = await sent.res.text().catch(() => "");
  const ms = s.now() - started;
  if (sent.res.ok) return { ok: true, status: sent.res.status, message: "key works", ms };
  const failure = provider.parseError(sent.res.status, text, sent.res.headers);
  // A request error (unknown model, say) still means the upstream accepted the key, and so does
  // a rate limit: a key disabled for a 401 that now hears 429 is one that works (its limit is
  // met by the requests it meets, as any key's).
  const ok = failure.keyFault === undefined || failure.keyFault === "rate_limit";
  const message = s.log.redact(failure.message).slice(0, 300);
  return {
    ok,
    rejected: failure.keyFault === "auth",
    status: failure.status,
    message: ok ? `key accepted (upstream said: ${message})` : message,
    ms,
  };
}

/**
 * The admin's test of a key: a key the upstream refuses is disabled, as a request's refusal would
 * disable it (left active, the next request would try it first); its check re-enables it once it
 * works.
 */
export async function testKey(
  s: Services,
  upstream: UpstreamConfig,
  key: string,
): Promise<ProbeResult> {
  const result = await probeKey(s, upstream, key);
  const id = healthId(upstream.baseUrl, key);
  // One disabled already keeps its reason: taken out by hand, no check is to put it back.
  if (result.rejected && s.health.get(id, "*")?.state !== "disabled") {
    await s.health.disable(id, clip(`${result.status}: ${result.message}`, 300));
  }
  return result;
}
