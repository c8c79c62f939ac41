// Key health as the dashboard shows it; re-fetched every second while a countdown runs.
import { type KeyStatus, stateCounts, type UpstreamStatus } from "../lib/key_status.ts";
import { formatDuration, Name, plural, upstreamPath } from "./format.tsx";

export function KeyStateBadge(props: { status: KeyStatus; now: number }) {
  const s = props.status;
  if (s.state === "disabled") {
    return (
      <span class="state">
        <span class="badge badge-bad">disabled</span> <span class="reason">{s.reason}</span>
      </span>
    );
  }
  if (s.state === "cooldown") {
    return (
      <span class="state">
        <span class="badge badge-warn">cooling down</span>{" "}
        <span class="countdown">{formatDuration((s.until ?? props.now) - props.now)} left</span>
        {s.model && s.model !== "*" && <span class="reason">for {s.model}</span>}
        {s.model === "*" && <span class="reason">for every model</span>}
      </span>
    );
  }
  return <span class="badge badge-ok">active</span>;
}

/**
 * Keys a group lists one by one. Past that, a count by state and the keys that are not active,
 * so the panel (polled every second while a key cools down) stays small for thousands of keys.
 */
const LISTED = 12;

function KeyGroup(props: { upstream: UpstreamStatus; now: number }) {
  const { keys, name } = props.upstream;
  const item = (k: KeyStatus) => (
    <li>
      <code class="key">{k.masked}</code> <KeyStateBadge status={k} now={props.now} />
    </li>
  );
  if (keys.length <= LISTED) return <ul class="key-list">{keys.map(item)}</ul>;
  const idle = keys.filter((k) => k.state !== "active");
  const counts = stateCounts(keys);
  return (
    <>
      <p class="muted">
        {counts.active} active · {counts.cooldown} cooling down · {counts.disabled} disabled
      </p>
      {idle.length > 0 && <ul class="key-list">{idle.slice(0, LISTED).map(item)}</ul>}
      {idle.length > LISTED && (
        <p>
          <a
            id={`key-states-more-${props.upstream.index}`}
            href={upstreamPath(name, `/keys?state=${counts.disabled ? "disabled" : "cooldown"}`)}
          >
            {plural(idle.length - LISTED, "more key")} not active
          </a>
        </p>
      )}
    </>
  );
}

export function KeyStatesPanel(props: { upstreams: UpstreamStatus[]; now: number }) {
  const cooling = props.upstreams.some((u) => u.keys.some((k) => k.state === "cooldown"));
  return (
    <section
      id="key-states"
      class="card"
      aria-labelledby="key-states-title"
      hx-get="/admin/fragments/key-states"
      hx-trigger={cooling ? "every 1s" : "every 10s"}
      hx-swap="outerHTML"
    >
      <h2 id="key-states-title">Keys</h2>
      {props.upstreams.length === 0 && (
        <p>
          No upstream yet. <a href="/admin/upstreams/new">Add one</a>.
        </p>
      )}
      {props.upstreams.map((u) => (
        <div class="key-group">
          <h3>
            <a id={`key-states-${u.index}`} href={upstreamPath(u.name, "/keys")}>
              <Name name={u.name} />
            </a>{" "}
            {u.current && <span class="badge badge-info">current</span>}{" "}
            <span class="muted">{plural(u.keys.length, "key")}</span>
          </h3>
          {u.keys.length === 0
            ? <p class="muted">No keys: requests to this upstream cannot be served.</p>
            : <KeyGroup upstream={u} now={props.now} />}
        </div>
      ))}
    </section>
  );
}
