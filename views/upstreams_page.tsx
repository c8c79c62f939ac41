// The upstream list: make current, reorder, edit, keys, delete (after a confirmation page).
import { ActionButton, FormGuards } from "./form_parts.tsx";
import { BreakableUrl, Name, plural, upstreamPath } from "./format.tsx";
import { AdminLayout, type Chrome } from "./layout.tsx";

export interface UpstreamSummary {
  index: number;
  name: string;
  serviceType: string;
  baseUrl: string;
  description?: string;
  keyCount: number;
  disabledKeys: number;
  current: boolean;
  fallback?: string;
}

export function UpstreamsPage(
  props: { chrome: Chrome; version: string | null; upstreams: UpstreamSummary[] },
) {
  const { csrf } = props.chrome;
  const last = props.upstreams.length - 1;
  return (
    <AdminLayout title="Upstreams" active="upstreams" chrome={props.chrome}>
      <div class="page-head">
        <h1>Upstreams</h1>
        <a class="button" href="/admin/upstreams/new">Add upstream</a>
      </div>
      <p class="muted">
        The current upstream serves every request; another one takes over only as a fallback.
      </p>
      {props.upstreams.length === 0
        ? (
          <section class="card">
            <p>
              No upstream yet. <a href="/admin/upstreams/new">Add the first one</a>, or{" "}
              <a href="/admin/transfer">import a config.json</a>.
            </p>
          </section>
        )
        : (
          <table class="list">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">Base URL</th>
                <th scope="col">Keys</th>
                <th scope="col" colspan={6}>
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {props.upstreams.map((u) => (
                <tr id={`upstream-${u.index}`} class={u.current ? "current" : undefined}>
                  <td data-label="#">{u.index}</td>
                  <td data-label="Name">
                    <a href={upstreamPath(u.name)}>
                      <strong>
                        <Name name={u.name} />
                      </strong>
                    </a>{" "}
                    {u.current && <span class="badge badge-info">current</span>}
                    {u.description && (
                      <div class="muted small">
                        <bdi>{u.description}</bdi>
                      </div>
                    )}
                    {u.fallback && (
                      <div class="muted small">
                        falls back to <Name name={u.fallback} />
                      </div>
                    )}
                  </td>
                  <td data-label="Kind" class="nowrap">{u.serviceType}</td>
                  <td data-label="Base URL" class="url">
                    <BreakableUrl url={u.baseUrl} />
                  </td>
                  <td data-label="Keys" class="nowrap">
                    <a href={upstreamPath(u.name, "/keys")}>{plural(u.keyCount, "key")}</a>
                    {u.disabledKeys > 0 && <div class="small bad">{u.disabledKeys} disabled</div>}
                  </td>
                  {/* One cell per action, so each button sits in the same column on every row. */}
                  <td class="act">
                    {!u.current && (
                      <ActionButton
                        action={upstreamPath(u.name, "/use")}
                        label="Make current"
                        context={u.name}
                        csrf={csrf}
                        version={props.version}
                      />
                    )}
                  </td>
                  <td class="act">
                    {u.index > 0 && (
                      <ActionButton
                        action={upstreamPath(u.name, "/move")}
                        label="Up"
                        title={`Move ${u.name} up`}
                        csrf={csrf}
                        version={props.version}
                        fields={{ direction: "up" }}
                      />
                    )}
                  </td>
                  <td class="act">
                    {u.index < last && (
                      <ActionButton
                        action={upstreamPath(u.name, "/move")}
                        label="Down"
                        title={`Move ${u.name} down`}
                        csrf={csrf}
                        version={props.version}
                        fields={{ direction: "down" }}
                      />
                    )}
                  </td>
                  <td class="act">
                    <a class="button secondary" href={upstreamPath(u.name)}>
                      Edit
                      <span class="visually-hidden">{` ${u.name}`}</span>
                    </a>
                  </td>
                  <td class="act">
                    <a class="button secondary" href={upstreamPath(u.name, "/keys")}>
                      Keys
                      <span class="visually-hidden">{` ${u.name}`}</span>
                    </a>
                  </td>
                  <td class="act">
                    <a class="button danger" href={upstreamPath(u.name, "/delete")}>
                      Delete
                      <span class="visually-hidden">{` ${u.name}`}</span>
                    </a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
    </AdminLayout>
  );
}

export function DeleteUpstreamPage(
  props: {
    chrome: Chrome;
    version: string | null;
    name: string;
    keyCount: number;
    current: boolean;
    referencedBy: string[];
  },
) {
  return (
    <AdminLayout title={`Delete ${props.name}`} active="upstreams" chrome={props.chrome}>
      <h1>Delete upstream “{props.name}”?</h1>
      <section class="card">
        <p>
          This removes the upstream and its {plural(props.keyCount, "key")}. It cannot be undone (an
          {" "}
          <a href="/admin/export" hx-boost="false">export</a> first keeps a copy).
        </p>
        {props.current && (
          <p class="notice notice-error">
            It is the current upstream: the first remaining one will serve requests instead.
          </p>
        )}
        {props.referencedBy.length > 0 && (
          <p>
            {props.referencedBy.join(", ")} fall{props.referencedBy.length === 1 ? "s" : ""}{" "}
            back to it; that fallback is removed too.
          </p>
        )}
        <form method="post" action={upstreamPath(props.name, "/delete")} class="row">
          <FormGuards csrf={props.chrome.csrf} version={props.version} />
          <button type="submit" class="danger">
            Delete <Name name={props.name} />
          </button>
          <a class="button secondary" href="/admin/upstreams">Cancel</a>
        </form>
      </section>
    </AdminLayout>
  );
}
