// The dashboard's usage panel: the last 24 hours per hour as inline SVG charts, and tables by
// upstream, model and key, from the usage counters every instance adds to.
import {
  averageLatency,
  latencyPercentile,
  type UsageReport,
  type UsageTotals,
} from "../lib/observability/usage_report.ts";
import { BarChart, formatCount, formatMs, LineChart } from "./charts.tsx";

const COLORS = {
  requests: "#4c78a8",
  errors: "#e45756",
  input: "#4c78a8",
  output: "#72b7b2",
  cache: "#b279a2",
  p50: "#4c78a8",
  p95: "#f58518",
};

const BASE = "/admin/logs";

/** The panel; without a report (the usage store could not be read) it says so. */
export function UsagePanel(props: { report: UsageReport | null }) {
  const { report } = props;
  if (!report) {
    return (
      <section class="card usage-panel" id="usage-panel" aria-labelledby="usage-title">
        <h2 id="usage-title">Usage, last 24 hours (UTC)</h2>
        <p class="notice notice-error" role="alert">
          The usage counters could not be read just now; reload the page in a moment.
        </p>
      </section>
    );
  }
  const labels = report.hours.map((h) => `${new Date(h.start).toISOString().slice(11, 13)}h`);
  const t = report.total;
  const p50 = latencyPercentile(t, 0.5);
  const p95 = latencyPercentile(t, 0.95);
  return (
    <section class="card usage-panel" id="usage-panel" aria-labelledby="usage-title">
      <h2 id="usage-title">Usage, last 24 hours (UTC)</h2>
      <p class="usage-downloads">
        Download CSV: <a href={`${BASE}/usage.csv?bucket=hour&days=7`}>hourly, 7 days</a>
        {" · "}
        <a href={`${BASE}/usage.csv?bucket=day&days=90`}>daily, 90 days</a>
      </p>
      <dl class="usage-tiles">
        <div>
          <dt>Requests, 24 h</dt>
          <dd>{formatCount(t.requests)}</dd>
        </div>
        <div>
          <dt>Error rate, 24 h</dt>
          <dd>{t.requests ? `${((t.errors / t.requests) * 100).toFixed(1)}%` : "–"}</dd>
        </div>
        <div>
          <dt>Tokens in / out, 24 h</dt>
          <dd>{formatCount(t.inputTokens)} / {formatCount(t.outputTokens)}</dd>
        </div>
        <div>
          <dt>Latency p50 / p95 (estimated)</dt>
          <dd>
            {p50 === undefined ? "–" : formatMs(p50)} / {p95 === undefined ? "–" : formatMs(p95)}
          </dd>
        </div>
      </dl>
      <BarChart
        title="Requests per hour"
        labels={labels}
        mode="overlay"
        whole
        empty="No requests in these 24 hours."
        series={[
          {
            name: "requests",
            values: report.hours.map((h) => h.totals.requests),
            color: COLORS.requests,
          },
          {
            name: "errors",
            values: report.hours.map((h) => h.totals.errors),
            color: COLORS.errors,
          },
        ]}
      />
      <BarChart
        title="Tokens per hour"
        labels={labels}
        mode="stack"
        whole
        empty="No tokens in these 24 hours."
        series={[
          {
            name: "input",
            values: report.hours.map((h) => h.totals.inputTokens),
            color: COLORS.input,
          },
          {
            name: "output",
            values: report.hours.map((h) => h.totals.outputTokens),
            color: COLORS.output,
          },
          {
            name: "cache read",
            values: report.hours.map((h) => h.totals.cacheReadTokens),
            color: COLORS.cache,
          },
        ]}
      />
      <LineChart
        title="Latency per hour (estimated from buckets)"
        labels={labels}
        format={formatMs}
        empty="No requests in these 24 hours."
        series={[
          {
            name: "p50",
            values: report.hours.map((h) => latencyPercentile(h.totals, 0.5)),
            color: COLORS.p50,
          },
          {
            name: "p95",
            values: report.hours.map((h) => latencyPercentile(h.totals, 0.95)),
            color: COLORS.p95,
          },
        ]}
      />
      <UsageTable
        title="By upstream"
        rows={report.byUpstream.map((r) => ({ name: r.name, totals: r.totals }))}
      />
      <UsageTable
        title="By model"
        rows={report.byModel.slice(0, 20).map((r) => ({ name: r.name, totals: r.totals }))}
      />
      <UsageTable
        title="By key (every call, retries included)"
        rows={report.byKey.map((r) => ({ name: `${r.upstream} · ${r.label}`, totals: r.totals }))}
      />
    </section>
  );
}

function UsageTable(props: { title: string; rows: Array<{ name: string; totals: UsageTotals }> }) {
  if (props.rows.length === 0) return null;
  return (
    // Eight columns do not fit a phone: the table scrolls inside its box, not the whole page.
    <div class="table-scroll">
      <table class="usage-table">
        <caption>{props.title}</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Requests</th>
            <th scope="col">Errors</th>
            <th scope="col">Input tokens</th>
            <th scope="col">Output tokens</th>
            <th scope="col">Cache read</th>
            <th scope="col">Avg latency</th>
            <th scope="col">p95</th>
          </tr>
        </thead>
        <tbody>
          {props.rows.map(({ name, totals }) => {
            const avg = averageLatency(totals);
            const p95 = latencyPercentile(totals, 0.95);
            return (
              <tr>
                <td>{name}</td>
                <td>{totals.requests}</td>
                <td>{totals.errors}</td>
                <td>{totals.inputTokens}</td>
                <td>{totals.outputTokens}</td>
                <td>{totals.cacheReadTokens}</td>
                <td>{avg === undefined ? "–" : formatMs(avg)}</td>
                <td>{p95 === undefined ? "–" : formatMs(p95)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
