// What a request may send again, on the same key, when the upstream refused something it named:
// a max_tokens over its limit, the history's thinking blocks, anthropic-beta flags or body fields
// it does not know. What is learned (limits, flags, fields) serves the next requests too.
import type { CallContext, Provider, UpstreamConfig, UpstreamFailure } from "./providers/types.ts";
import { limitOf, outputLimitFromError } from "./output_limits.ts";
import type { MessagesCall } from "./proxy.ts";
import { betaFlags, COMMON_BETAS, EVERY_BETA } from "./refused_betas.ts";
import { holdsRefused } from "./refused_fields.ts";
import type { Services } from "./services.ts";

/** What a request may retry on the same key when the upstream refused something it named. */
export interface RefusalRetry {
  /** Retries within a max_tokens limit: a prompt the upstream did not count may take a second. */
  limitRetries: number;
  betaRetries: number;
  fieldRetries: number;
  /** The output tokens the upstream's last refusal left for this very request. */
  cap: number | undefined;
  clientHeaders: Headers;
  withoutThinking: boolean | "off";
  dropFields: readonly string[] | undefined;
}

/**
 * Whether a request the upstream refused (not a key's fault) is worth sending again: within the
 * max_tokens limit it named, without the history's thinking blocks, or without the anthropic-beta
 * flags or body fields it refused. Learns the limit, the flags and the fields.
 */
export function retryAfterRefusal(
  s: Services,
  provider: Provider,
  call: MessagesCall,
  ctx: CallContext,
  model: string,
  failure: UpstreamFailure,
  retry: RefusalRetry,
): boolean {
  if (failure.status !== 400) return false;
  const upstream = ctx.upstream.name;
  const scope = refusalScope(ctx.upstream, model);
  const hint = outputLimitFromError(provider, failure.message, call.raw.length, retry.limitRetries);
  const limit = hint && limitOf(hint);
  const asked = Math.min(call.body.max_tokens, ctx.upstream.maxTokens ?? Infinity);
  if (limit !== undefined && limit < asked && retry.limitRetries < 2) {
    retry.limitRetries++;
    retry.cap = limit;
    s.outputLimits.learn(serverOf(ctx.upstream), model, hint!, call.raw.length);
    // A validator lists every problem at once: the fields it named go too, not one retry later.
    const fields = refusedFields(provider, failure, call);
    if (fields?.length && retry.fieldRetries < 10) {
      s.refusedFields.learn(scope, fields);
      retry.dropFields = s.refusedFields.for(scope);
    }
    s.log.log("info", "upstream refused max_tokens: retrying within the limit it named", {
      requestId: call.requestId,
      upstream,
      model,
      limit,
    });
    return true;
  }
  // Without thinking in the request there is nothing to leave out: the same body would fail again.
  const thinking = call.raw.includes('"thinking"');
  const history = thinking && !retry.withoutThinking && provider.refusedThinking?.(failure.message);
  if (history) {
    retry.withoutThinking = history;
    s.log.log("info", "upstream refused the history's thinking blocks: retrying without them", {
      requestId: call.requestId,
      upstream,
    });
    return true;
  }
  const fields = refusedFields(provider, failure, call);
  if (fields && retry.fieldRetries < 10) {
    s.refusedFields.learn(scope, fields);
    const dropped = s.refusedFields.for(scope) ?? [];
    // Only when the body goes without a field it held this time: else it would fail the same way.
    // A refusal names one field at a time, and Claude Code sends several new ones at once.
    if (fields.some((f) => dropped.includes(f) && !retry.dropFields?.includes(f))) {
      retry.fieldRetries++;
      retry.dropFields = dropped;
      s.log.log("info", "upstream refused body fields: retrying without them", {
        requestId: call.requestId,
        upstream,
        fields: fields.join(","),
      });
      return true;
    }
  }
  const sent = betaFlags(retry.clientHeaders.get("anthropic-beta"));
  let refused = provider.refusedBetas?.(failure.message, sent);
  if (!refused || retry.betaRetries >= 2) return false;
  if (refused.includes(EVERY_BETA) && retry.betaRetries === 0) {
    const uncommon = sent.filter((f) => !COMMON_BETAS.has(f));
    if (uncommon.length && uncommon.length < sent.length) refused = uncommon;
  }
  retry.betaRetries++;
  s.refusedBetas.learn(scope, refused);
  retry.clientHeaders = s.refusedBetas.filter(scope, call.headers);
  s.log.log("info", "upstream refused anthropic-beta flags: retrying without them", {
    requestId: call.requestId,
    upstream,
    flags: refused.join(","),
  });
  return true;
}

/**
 * The body fields a refusal names; adaptive thinking and system messages only from a body that
 * had them (the same body would fail the same way, and nothing is to be learned from it).
 */
function refusedFields(
  provider: Provider,
  failure: UpstreamFailure,
  call: MessagesCall,
): string[] | undefined {
  return provider.refusedFields?.(failure.message)?.filter((f) => holdsRefused(f, call.raw));
}

/**
 * The server behind an upstream, by which what it refused is learned: an upstream given another
 * kind or base URL (the same name, a new server) starts afresh.
 */
export function serverOf(u: Pick<UpstreamConfig, "name" | "serviceType" | "baseUrl">): string {
  return `${u.name}\u0000${u.serviceType}\u0000${u.baseUrl ?? ""}`;
}

/**
 * Where refused flags and fields are learned: per server and model, as an upstream's models
 * differ (Bedrock's in the flags they take, Groq's in reasoning_effort).
 */
export function refusalScope(
  upstream: Pick<UpstreamConfig, "name" | "serviceType" | "baseUrl">,
  model: string,
): string {
  return `${serverOf(upstream)}\u0000${model}`;
}

/** A request's retry state at an upstream's model, with what was learned of it before. */
export function refusalRetry(
  s: Services,
  upstream: UpstreamConfig,
  model: string,
  headers: Headers,
): RefusalRetry {
  const scope = refusalScope(upstream, model);
  return {
    limitRetries: 0,
    betaRetries: 0,
    fieldRetries: 0,
    cap: undefined,
    clientHeaders: s.refusedBetas.filter(scope, headers),
    withoutThinking: false,
    dropFields: s.refusedFields.for(scope),
  };
}
