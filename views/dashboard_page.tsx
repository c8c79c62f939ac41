// The dashboard: is it running, what serves requests, how the keys are, how to point Claude Code here.
import type { UpstreamStatus } from "../lib/key_status.ts";
import type { UsageReport } from "../lib/observability/usage_report.ts";
import { formatDuration, upstreamPath } from "./format.tsx";
import { KeyStatesPanel } from "./key_states.tsx";
import { AdminLayout, type Chrome } from "./layout.tsx";
import { UsagePanel } from "./usage_panel.tsx";

export interface DashboardProps {
  chrome: Chrome;
  /** The last 24 hours of usage; null when the counters could not be read. */
  usage: UsageReport | null;
  uptimeMs: number;
  current: { name: string; serviceType: string; baseUrl: string } | null;
  strategy: string;
  upstreams: UpstreamStatus[];
  lastHour: { requests: number; errors: number };
  origin: string;
  accessKeySet: boolean;
  now: number;
}

/** The settings.json for Claude Code; the access key is named, never shown. */
function claudeSettings(origin: string): string {
  return JSON.stringify(
    { env: { ANTHROPIC_BASE_URL: origin, ANTHROPIC_AUTH_TOKEN: "<your PROXY_ACCESS_KEY>" } },
    null,
    2,
  );
}

export function DashboardPage(props: DashboardProps) {
  const keyCount = props.upstreams.reduce((n, u) => n + u.keys.length, 0);
  return (
    <AdminLayout title="Dashboard" active="dashboard" chrome={props.chrome}>
      <h1>Dashboard</h1>
      <section class="stats" aria-label="Status">
        <div class="stat">
          <span class="stat-label">Status</span>
          <span class="stat-value">
            <span class="badge badge-ok">running</span>
          </span>
        </div>
        <div class="stat">
          <span class="stat-label">Uptime</span>
          <span class="stat-value">{formatDuration(props.uptimeMs)}</span>
        </div>
        <div class="stat">
          <span class="stat-label">Current upstream</span>
          <span class="stat-value">
            {props.current
              ? (
                <a href={upstreamPath(props.current.name)} title={props.current.name}>
                  {props.current.name}
                </a>
              )
              : <a href="/admin/upstreams/new">none yet: add one</a>}
          </span>
          {props.current && (
            <span
              class="stat-note"
              title={`${props.current.serviceType} · ${props.current.baseUrl}`}
            >
              {props.current.serviceType} · {props.current.baseUrl}
            </span>
          )}
        </div>
        <div class="stat">
          <span class="stat-label">Strategy</span>
          <span class="stat-value">
            <a href="/admin/strategy">{props.strategy}</a>
          </span>
          <span class="stat-note">{keyCount} keys in {props.upstreams.length} upstreams</span>
        </div>
        <div class="stat">
          <span class="stat-label">Requests, last hour</span>
          <span class="stat-value">{props.lastHour.requests}</span>
        </div>
        <div class="stat">
          <span class="stat-label">Errors, last hour</span>
          <span class={props.lastHour.errors > 0 ? "stat-value bad" : "stat-value"}>
            {props.lastHour.errors}
          </span>
        </div>
      </section>

      {!props.accessKeySet && (
        <p class="notice notice-error" role="alert">
          PROXY_ACCESS_KEY is not set: every client request to /v1 is refused with 401 until it is.
        </p>
      )}

      <KeyStatesPanel upstreams={props.upstreams} now={props.now} />

      <UsagePanel report={props.usage} />

      <section class="card" aria-labelledby="claude-code-title">
        <h2 id="claude-code-title">Use it from Claude Code</h2>
        <p>
          Put this in <code>~/.claude/settings.json</code> (or a project's{" "}
          <code>.claude/settings.json</code>), with your access key in place of the placeholder:
        </p>
        <pre class="snippet"><code>{claudeSettings(props.origin)}</code></pre>
      </section>
    </AdminLayout>
  );
}
