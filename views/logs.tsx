// The request log pages: a filterable, live-refreshing table (newest first) and one request's detail
// with its routing trace and bodies.
import type { RequestLogEntry, RequestLogSummary } from "../lib/observability/request_log_entry.ts";
import type { RequestLogFilter, RequestLogPage } from "../lib/store/request_log_store.ts";
import { formatMs } from "./charts.tsx";
import { Name } from "./format.tsx";
import { AdminLayout, type Chrome } from "./layout.tsx";

export const LOGS_BASE = "/admin/logs";

export interface LogsView {
  filter: RequestLogFilter;
  page: RequestLogPage;
  /** Refresh the table every few seconds. */
  live: boolean;
  /** Shown when the page starts further back than the newest entry. */
  cursor?: string;
}

const STATUS_CHOICES = ["", "2xx", "4xx", "5xx", "400", "429", "499", "502", "529"];

/** Query string of a filter (and optional extra parameters), for links and polling. */
export function filterQuery(filter: RequestLogFilter, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams();
  if (filter.status) q.set("status", filter.status);
  if (filter.upstream) q.set("upstream", filter.upstream);
  if (filter.model) q.set("model", filter.model);
  if (filter.errorsOnly) q.set("errors", "1");
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

function time(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").slice(0, 23);
}

/** `11-26 04:09:38`: enough for a table row; the full time is in the title. */
function shortTime(ms: number): string {
  return new Date(ms).toISOString().slice(5, 19).replace("T", " ");
}

function StatusBadge(props: { s: Pick<RequestLogSummary, "status" | "error"> }) {
  const { status, error } = props.s;
  const kind = error ? "badge-bad" : status >= 400 ? "badge-warn" : "badge-ok";
  return <span class={`badge ${kind}`}>{status}{error && status < 400 ? " (broke)" : ""}</span>;
}

function tokens(s: RequestLogSummary): string {
  if (!s.tokens) return "–";
  const t = s.tokens;
  const cache = t.cacheRead + t.cacheCreation;
  return `${t.input} / ${t.output}${cache ? ` (+${cache} cache)` : ""}`;
}

export function LogsPage(
  props: LogsView & { chrome: Chrome; upstreams: string[]; max: number; ttlHours: number },
) {
  const { filter } = props;
  return (
    <AdminLayout title="Request log" active="logs" chrome={props.chrome}>
      <div class="page-head">
        <h1>Request log</h1>
        <a class="button secondary" href={`${LOGS_BASE}/usage.csv?bucket=hour&days=7`}>
          Usage CSV
        </a>
      </div>
      <p class="muted">
        Newest first, times in UTC. The newest {props.max} requests of the last {props.ttlHours}
        {" "}
        hours are kept (REQUEST_LOG_MAX, REQUEST_LOG_TTL_HOURS); bodies only when
        ENABLE_REQUEST_LOGS / ENABLE_RESPONSE_LOGS are on, with secrets masked. Requests the proxy
        turned away itself (at MAX_CONCURRENT_REQUESTS, over the rate limit, a body it refuses) are
        counted on the dashboard and in /metrics, not listed here.
      </p>
      <form
        id="log-filters"
        class="row filters"
        method="get"
        action={LOGS_BASE}
        hx-get={`${LOGS_BASE}/rows`}
        hx-target="#log-rows"
        hx-swap="outerHTML"
        hx-trigger="change, submit"
        hx-include="#log-live-state"
        // Enter in a field is a change and a submit: one request, one history entry.
        hx-sync="this:drop"
        // A snapshot would keep the filters' first values: Back asks the server for the page.
        hx-history="false"
      >
        <label>
          Status{" "}
          <select name="status">
            {STATUS_CHOICES.map((s) => (
              <option value={s} selected={(filter.status ?? "") === s}>{s || "any"}</option>
            ))}
          </select>
        </label>
        <label>
          Upstream{" "}
          <select name="upstream">
            <option value="" selected={!filter.upstream}>any</option>
            {props.upstreams.map((u) => (
              <option value={u} selected={filter.upstream === u}>{u}</option>
            ))}
          </select>
        </label>
        <label>
          Model <input type="search" name="model" value={filter.model ?? ""} size={18} />
        </label>
        <label class="check">
          <input type="checkbox" name="errors" value="1" checked={filter.errorsOnly} /> errors only
        </label>
        <button type="submit" class="secondary">Filter</button>
      </form>
      <LogRows {...props} />
    </AdminLayout>
  );
}

/**
 * The table, polled every 5 s while live; pausing swaps in a copy without the trigger, so
 * nothing runs in the browser but htmx.
 */
export function LogRows(props: LogsView) {
  const { filter, page, live } = props;
  const rowsUrl = `${LOGS_BASE}/rows`;
  return (
    <section
      id="log-rows"
      class="card"
      aria-label="Requests"
      aria-live="off"
      hx-get={live ? `${rowsUrl}${filterQuery(filter, { live: "1" })}` : undefined}
      hx-trigger={live ? "every 5s" : undefined}
      hx-swap={live ? "outerHTML" : undefined}
    >
      <input type="hidden" id="log-live-state" name="live" value={live ? "1" : "0"} />
      <p class="row live-switch">
        {live
          ? (
            <>
              <span class="badge badge-info">live</span>{" "}
              <button
                type="button"
                id="log-live-switch"
                class="secondary"
                hx-get={`${rowsUrl}${filterQuery(filter, { live: "0" })}`}
                hx-target="#log-rows"
                hx-swap="outerHTML"
              >
                Pause
              </button>
            </>
          )
          : (
            <>
              <span class="badge">paused</span>{" "}
              <button
                type="button"
                id="log-live-switch"
                class="secondary"
                hx-get={`${rowsUrl}${filterQuery(filter, { live: "1" })}`}
                hx-target="#log-rows"
                hx-swap="outerHTML"
              >
                {props.cursor ? "Back to newest, live" : "Resume live refresh"}
              </button>
            </>
          )}
      </p>
      {page.items.length === 0
        ? <p class="muted">No request matches.</p>
        : (
          <table class="list log-table">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Status</th>
                <th scope="col">Model</th>
                <th scope="col">Upstream · key</th>
                <th scope="col">Tries</th>
                <th scope="col">First byte</th>
                <th scope="col">Total</th>
                <th scope="col">Tokens in / out</th>
                <th scope="col">Stop</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((s) => (
                <tr class={s.error ? "error" : undefined}>
                  <td data-label="Time" class="nowrap">
                    <a
                      href={`${LOGS_BASE}/${encodeURIComponent(s.id)}${
                        filterQuery(filter, s.batch !== undefined ? { b: String(s.batch) } : {})
                      }`}
                      title={`${time(s.time)} UTC · ${s.id}`}
                      data-id={s.id}
                      id={`log-${s.id}`}
                    >
                      {shortTime(s.time)}
                    </a>
                    {s.stream && <div class="muted small">stream</div>}
                  </td>
                  <td data-label="Status">
                    <StatusBadge s={s} />
                    {s.errorType && <div class="muted small">{s.errorType}</div>}
                  </td>
                  <td data-label="Model">
                    <Name name={s.model} />
                    {s.upstreamModel && s.upstreamModel !== s.model && (
                      <div class="muted small">
                        → <Name name={s.upstreamModel} />
                      </div>
                    )}
                  </td>
                  <td data-label="Upstream">
                    {s.upstream ? <Name name={s.upstream} /> : "–"}
                    {s.key && (
                      <div>
                        <code class="key">{s.key}</code>
                      </div>
                    )}
                  </td>
                  <td data-label="Tries">
                    {s.tries}
                    {s.fallbacks.length > 0 && (
                      <div class="muted small">
                        {/* No break after the colon: "fallback:" alone on a line says nothing. */}
                        fallback:{"\u00a0"}
                        {s.fallbacks.map((f, i) => (
                          <>
                            {i > 0 && " → "}
                            <Name name={f} />
                          </>
                        ))}
                      </div>
                    )}
                  </td>
                  <td data-label="First byte">
                    {s.ttfbMs === undefined ? "–" : formatMs(s.ttfbMs)}
                  </td>
                  <td data-label="Total">{formatMs(s.totalMs)}</td>
                  <td data-label="Tokens">{tokens(s)}</td>
                  <td data-label="Stop">{s.stopReason ?? "–"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      {page.cursor && (
        <p>
          <a
            class="button secondary"
            href={`${LOGS_BASE}${filterQuery(filter, { cursor: page.cursor })}`}
          >
            Older
          </a>
        </p>
      )}
    </section>
  );
}

/** `back`: the log with the filter the entry was opened from. */
export function LogDetailPage(props: { chrome: Chrome; entry: RequestLogEntry; back?: string }) {
  const e = props.entry;
  return (
    <AdminLayout title={`Request ${e.id}`} active="logs" chrome={props.chrome}>
      <div class="page-head">
        <h1>
          Request <code class="break">{e.id}</code>
        </h1>
        <a class="button secondary" href={props.back ?? LOGS_BASE}>Back to the log</a>
      </div>
      <section class="card">
        <table class="list details">
          <tbody>
            <tr>
              <th scope="row">Time (UTC)</th>
              <td>{time(e.time)}</td>
            </tr>
            <tr>
              <th scope="row">Status</th>
              <td>
                <StatusBadge s={e} /> {e.errorType && <code>{e.errorType}</code>}
                {e.errorMessage && <div>{e.errorMessage}</div>}
              </td>
            </tr>
            <tr>
              <th scope="row">Endpoint</th>
              <td>
                {e.path} {e.stream ? "(stream)" : ""}
              </td>
            </tr>
            <tr>
              <th scope="row">Client key</th>
              <td>{e.clientKey ? <code class="key">{e.clientKey}</code> : "–"}</td>
            </tr>
            <tr>
              <th scope="row">Model</th>
              <td>
                <bdi>{e.model}</bdi>
                {e.upstreamModel && e.upstreamModel !== e.model
                  ? (
                    <>
                      {" → "}
                      <bdi>{e.upstreamModel}</bdi>
                    </>
                  )
                  : ""}
              </td>
            </tr>
            <tr>
              <th scope="row">Upstream</th>
              <td>
                {e.upstream ?? "–"} {e.serviceType && <span class="muted">({e.serviceType})</span>}
              </td>
            </tr>
            <tr>
              <th scope="row">Retries / fallbacks</th>
              <td>
                {e.retries} / {e.fallbacks.length ? e.fallbacks.join(" → ") : "none"}
              </td>
            </tr>
            <tr>
              <th scope="row">Stop reason</th>
              <td>{e.stopReason ?? "–"}</td>
            </tr>
            <tr>
              <th scope="row">First byte / total</th>
              <td>
                {e.ttfbMs === undefined ? "–" : formatMs(e.ttfbMs)} / {formatMs(e.totalMs)}
              </td>
            </tr>
            <tr>
              <th scope="row">Tokens</th>
              <td>
                {e.tokens
                  ? `input ${e.tokens.input}, output ${e.tokens.output}, cache read ${e.tokens.cacheRead}, cache write ${e.tokens.cacheCreation}`
                  : "–"}
              </td>
            </tr>
          </tbody>
        </table>
      </section>
      <section class="card" aria-labelledby="trace-title">
        <h2 id="trace-title">Routing trace</h2>
        {e.attempts.length === 0 ? <p class="muted">No key was tried.</p> : (
          <table class="list">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Upstream</th>
                <th scope="col">Key</th>
                <th scope="col">Outcome</th>
                <th scope="col">Status</th>
                <th scope="col">Why</th>
                <th scope="col">Time</th>
              </tr>
            </thead>
            <tbody>
              {e.attempts.map((a, i) => (
                <tr>
                  <td data-label="Try">{i + 1}</td>
                  <td data-label="Upstream">{a.upstream}</td>
                  <td data-label="Key">
                    <code class="key">{a.key}</code>
                  </td>
                  <td data-label="Outcome">
                    <span
                      class={`badge ${
                        a.outcome === "ok"
                          ? "badge-ok"
                          : a.outcome === "failed"
                          ? "badge-bad"
                          : "badge-warn"
                      }`}
                    >
                      {a.outcome}
                    </span>
                  </td>
                  <td data-label="Status">{a.status ?? "–"}</td>
                  <td data-label="Why">{a.reason ? <bdi>{a.reason}</bdi> : "–"}</td>
                  <td data-label="Time">{a.ms === undefined ? "–" : formatMs(a.ms)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {e.attemptsOmitted
          ? <p class="muted">{e.attemptsOmitted} more attempts not kept.</p>
          : null}
      </section>
      <Body
        title="Request body"
        text={e.requestBody}
        truncated={e.requestBodyTruncated}
        setting="ENABLE_REQUEST_LOGS"
      />
      <Body
        title="Response body"
        text={e.responseBody}
        truncated={e.responseBodyTruncated}
        setting="ENABLE_RESPONSE_LOGS"
      />
    </AdminLayout>
  );
}

function Body(props: { title: string; text?: string; truncated?: boolean; setting: string }) {
  return (
    <section class="card">
      <h2>{props.title}</h2>
      {props.text === undefined
        ? <p class="muted">Not recorded ({props.setting} was off, or nothing was sent).</p>
        : (
          <>
            {props.truncated && (
              <p class="muted small">Truncated to LOG_BODY_MAX_BYTES. Secrets are masked.</p>
            )}
            <pre class="snippet"><code>{props.text}</code></pre>
          </>
        )}
    </section>
  );
}

export function LogNotFoundPage(props: { chrome: Chrome; id: string; back?: string }) {
  return (
    <AdminLayout title="Request not found" active="logs" chrome={props.chrome}>
      <h1>Request not found</h1>
      <p>
        No entry for <code>{props.id}</code>: it may have aged out or been trimmed.{" "}
        <a href={props.back ?? LOGS_BASE}>Back to the log</a>
      </p>
    </AdminLayout>
  );
}
