// The models the current upstream serves, as `GET /v1/models` and `/v1/models/{id}` tell them:
// the model map's names first, then what the upstream lists. An Anthropic-compatible upstream
// answers for itself, its pages included.
import { messageOf, ProxyError } from "./errors.ts";
import { mapModel } from "./model_map.ts";
import { providerFor } from "./providers/registry.ts";
import type { ModelInfo, Provider, UpstreamConfig, UpstreamRequest } from "./providers/types.ts";
import type { Services } from "./services.ts";

const FAMILY_KEYS = new Set(["haiku", "sonnet", "opus", "default"]);
const EPOCH = "1970-01-01T00:00:00.000Z";
const LIST_TIMEOUT_MS = 10_000;

/** An upstream's answer relayed as it is (the passthrough), or the proxy's own. */
export type CatalogAnswer = { relay: Response } | { json: unknown };

interface Current {
  upstream: UpstreamConfig | undefined;
  provider: Provider | undefined;
}

function current(s: Services): Current {
  const { doc } = s.store.snapshot;
  const upstream = doc.upstream[doc.currentUpstream];
  return { upstream, provider: upstream && providerFor(upstream.serviceType) };
}

/** The first key in failover order, "" for an upstream without keys, undefined when none can go. */
function keyFor(s: Services, upstream: UpstreamConfig): string | undefined {
  if (!upstream.apiKeys.length) return "";
  return s.pool.order(upstream, "failover", "*")[0]?.key;
}

/** Only the model map's names answer then: the operator is told why the upstream's are missing. */
function listMissing(s: Services, upstream: UpstreamConfig, reason: string): void {
  s.log.log("warn", "could not get the upstream's model list", {
    upstream: upstream.name,
    reason,
  });
}

async function call(
  s: Services,
  upstream: UpstreamConfig,
  req: UpstreamRequest,
): Promise<Response | undefined> {
  try {
    return await s.fetch(req.url, {
      method: req.method ?? "GET",
      headers: req.headers,
      signal: AbortSignal.timeout(LIST_TIMEOUT_MS),
    });
  } catch (err) {
    listMissing(s, upstream, messageOf(err));
    return undefined;
  }
}

/** The upstream's own list in Anthropic's terms; undefined when it could not be had. */
async function upstreamModels(
  s: Services,
  { upstream, provider }: Current,
  headers: Headers,
): Promise<ModelInfo[] | undefined> {
  if (!upstream || !provider?.modelsRequest || !provider.parseModels) return undefined;
  const apiKey = keyFor(s, upstream);
  if (apiKey === undefined) return undefined;
  const res = await call(
    s,
    upstream,
    provider.modelsRequest({ upstream, apiKey, clientHeaders: headers }),
  );
  if (!res?.ok) {
    if (res) listMissing(s, upstream, `status ${res.status}`);
    await res?.body?.cancel();
    return undefined;
  }
  try {
    return provider.parseModels(await res.json());
  } catch (err) {
    listMissing(s, upstream, `unreadable answer: ${err instanceof Error ? err.message : err}`);
    return undefined;
  }
}

/**
 * The model map's names: the exact names it routes (with their target), then the targets (which
 * an upstream that lists its own models lists itself).
 */
function mapModels(upstream: UpstreamConfig | undefined, targets = true): ModelInfo[] {
  const out: ModelInfo[] = [];
  for (const [from, to] of Object.entries(upstream?.models ?? {})) {
    if (!FAMILY_KEYS.has(from)) {
      out.push({ type: "model", id: from, display_name: `${from} → ${to}`, created_at: EPOCH });
    }
  }
  if (!targets) return out;
  for (const to of Object.values(upstream?.models ?? {})) {
    out.push({ type: "model", id: to, display_name: to, created_at: EPOCH });
  }
  return out;
}

/** A relayed upstream answer: its body and status, without its transport headers. */
function relay(res: Response): Response {
  return new Response(res.body, {
    status: res.status,
    headers: { "content-type": "application/json" },
  });
}

/**
 * An Anthropic upstream's page of its list, the model map's names before its first page (pages
 * after it are the upstream's as they are, so its cursors keep working).
 */
async function withMapNames(
  res: Response,
  mapped: ModelInfo[],
  targets: Record<string, string>,
  query: string,
): Promise<CatalogAnswer> {
  const params = new URLSearchParams(query);
  if (!mapped.length || params.has("after_id") || params.has("before_id")) {
    return { relay: relay(res) };
  }
  const text = await res.text();
  let page: { data?: unknown; first_id?: unknown } | undefined;
  try {
    page = JSON.parse(text);
  } catch { /* not JSON: passed on as it came */ }
  if (!page || !Array.isArray(page.data)) {
    return { relay: new Response(text, { headers: { "content-type": "application/json" } }) };
  }
  const upstreamPage = page.data as Array<{ id?: unknown; created_at?: unknown }>;
  const listed = new Set(upstreamPage.map((m) => m?.id));
  const seen = new Set<string>();
  const extra = mapped.filter((m) => !listed.has(m.id) && !seen.has(m.id) && seen.add(m.id));
  // A name the map routes to a model on this page has that model's date.
  for (const m of extra) {
    const made = upstreamPage.find((u) => u?.id === targets[m.id])?.created_at;
    if (typeof made === "string") m.created_at = made;
  }
  const data = [...extra, ...upstreamPage];
  return { json: { ...page, data, first_id: data[0]?.id ?? null } };
}

/** When the upstream says the model `id` was made, asked as its own list or its own page. */
async function targetDate(
  s: Services,
  cur: Current,
  headers: Headers,
  id: string,
): Promise<string | undefined> {
  if (cur.provider?.parseModels) {
    return (await upstreamModels(s, cur, headers))?.find((m) => m.id === id)?.created_at;
  }
  const res = await modelPage(s, cur, headers, id);
  if (!res?.ok) {
    await res?.body?.cancel();
    return undefined;
  }
  const created = (await res.json().catch(() => undefined))?.created_at;
  return typeof created === "string" ? created : undefined;
}

/** The upstream's own page of the model `id`; undefined when it has none or no key can ask. */
async function modelPage(
  s: Services,
  { upstream, provider }: Current,
  headers: Headers,
  id: string,
): Promise<Response | undefined> {
  if (!upstream || !provider?.modelRequest) return undefined;
  const apiKey = keyFor(s, upstream);
  if (apiKey === undefined) return undefined;
  return await call(
    s,
    upstream,
    provider.modelRequest({ upstream, apiKey, clientHeaders: headers }, id),
  );
}

/** `GET /v1/models`; `query` is the client's query string with its `?`, or "". */
export async function listModels(
  s: Services,
  headers: Headers,
  query: string,
): Promise<CatalogAnswer> {
  const cur = current(s);
  const { upstream, provider } = cur;
  if (upstream && provider?.modelsRequest && !provider.parseModels) {
    const apiKey = keyFor(s, upstream);
    if (apiKey !== undefined) {
      // The client's page parameters go along: the SDK pages on with after_id until has_more
      // is false, and an upstream asked without them hands out its first page every time.
      const res = await call(
        s,
        upstream,
        provider.modelsRequest({ upstream, apiKey, clientHeaders: headers, clientQuery: query }),
      );
      if (res?.ok) {
        return await withMapNames(res, mapModels(upstream, false), upstream.models ?? {}, query);
      }
      if (res) listMissing(s, upstream, `status ${res.status}`);
      await res?.body?.cancel();
    }
  }
  const seen = new Map<string, ModelInfo>();
  const data: ModelInfo[] = [];
  const map = mapModels(upstream);
  const own = await upstreamModels(s, cur, headers) ?? [];
  // An upstream model the map would send elsewhere (a `default`, a family its name contains) is
  // not offered by its own name: asked for, another model would answer.
  const reachable = (m: ModelInfo) => mapModel(m.id, upstream?.models) === m.id;
  const dates = new Map([...map, ...own].map((m) => [m.id, m.created_at]));
  for (const m of [...map, ...own.filter(reachable)]) {
    const first = seen.get(m.id);
    if (first) {
      // A map target the upstream lists too: its date is the upstream's, not the epoch.
      if (first.created_at === EPOCH) first.created_at = m.created_at;
      continue;
    }
    seen.set(m.id, m);
    data.push(m);
  }
  // A name the map routes is as new as the model it routes to, when the upstream dates that.
  for (const [from, to] of Object.entries(upstream?.models ?? {})) {
    const name = seen.get(from);
    const date = dates.get(to);
    if (name && date && from !== to && name.created_at === EPOCH) name.created_at = date;
  }
  return { json: pageOf(data, query) };
}

const DEFAULT_PAGE = 20;
const MAX_PAGE = 1000;

/**
 * One page of the list as Anthropic pages it: `limit` items (20 unless asked) after `after_id` or
 * before `before_id`. A client that pages by hand with `after_id` would otherwise get the same
 * items again, with no end.
 */
function pageOf(all: ModelInfo[], query: string): unknown {
  const params = new URLSearchParams(query);
  const limitText = params.get("limit");
  const limit = limitText === null ? DEFAULT_PAGE : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw new ProxyError(400, `limit: must be an integer from 1 to ${MAX_PAGE}`);
  }
  const after = params.get("after_id");
  const before = params.get("before_id");
  let data: ModelInfo[];
  let hasMore: boolean;
  if (after !== null) {
    // A cursor no longer listed ends the pages rather than starting them over.
    const at = all.findIndex((m) => m.id === after);
    const rest = at === -1 ? [] : all.slice(at + 1);
    data = rest.slice(0, limit);
    hasMore = rest.length > limit;
  } else if (before !== null) {
    const at = all.findIndex((m) => m.id === before);
    const head = at === -1 ? [] : all.slice(0, at);
    data = head.slice(Math.max(0, head.length - limit));
    hasMore = head.length > limit;
  } else {
    data = all.slice(0, limit);
    hasMore = all.length > limit;
  }
  return {
    data,
    has_more: hasMore,
    first_id: data[0]?.id ?? null,
    last_id: data[data.length - 1]?.id ?? null,
  };
}

/**
 * `GET /v1/models/{id}`: a name the model map routes is served; any other goes to the upstream
 * unchanged, so the upstream's own list decides. Only a list that lacks the name is a 404; when
 * no list can be had the name may still work, so it is not refused.
 */
export async function findModel(s: Services, headers: Headers, id: string): Promise<CatalogAnswer> {
  const cur = current(s);
  const { upstream, provider } = cur;
  const mapped = mapModel(id, upstream?.models);
  // A map target is itself only where its own name reaches it (no `default` sends it elsewhere).
  const listed = mapModels(upstream, mapped === id).find((m) => m.id === id);
  if (listed || mapped !== id) {
    // A name the map serves is as new as the model it routes to, when the upstream dates that.
    const target = listed && Object.values(upstream?.models ?? {}).includes(id) ? id : mapped;
    const info = listed ??
      { type: "model", id, display_name: `${id} → ${mapped}`, created_at: EPOCH };
    const dated = await targetDate(s, cur, headers, target);
    return { json: dated ? { ...info, created_at: dated } : info };
  }
  const unknown = { json: { type: "model", id, display_name: id, created_at: EPOCH } };
  if (upstream && provider?.modelRequest) {
    const res = await modelPage(s, cur, headers, id);
    if (res?.ok) return { relay: relay(res) };
    await res?.body?.cancel();
    if (res?.status === 404) throw new ProxyError(404, `model: ${id}`);
    return unknown;
  }
  const models = await upstreamModels(s, cur, headers);
  if (!models) return unknown;
  const found = models.find((m) => m.id === id);
  if (!found) throw new ProxyError(404, `model: ${id}`);
  return { json: found };
}
