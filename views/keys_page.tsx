// The keys of one upstream: paste many, test, enable/disable, delete. Keys are only ever shown masked.
import type { KeyStatus } from "../lib/key_status.ts";
import {
  ActionButton,
  FieldError,
  type FieldErrors,
  FormGuards,
  textareaValue,
} from "./form_parts.tsx";
import { Name, plural, upstreamPath } from "./format.tsx";
import { KeyStateBadge } from "./key_states.tsx";
import { AdminLayout, type Chrome } from "./layout.tsx";

export interface KeyTestResult {
  ok: boolean;
  status: number;
  message: string;
  ms: number;
}

export const KEY_STATES = ["active", "cooldown", "disabled"] as const;

/** Which keys the list shows: a state, a piece of the masked key (or its id), a page. */
export interface KeysView {
  state: "" | typeof KEY_STATES[number];
  q: string;
  page: number;
}

/** The view as a query string ("" for the first page of every key). */
export function keysViewQuery(view: KeysView, page = view.page): string {
  const params = new URLSearchParams();
  if (view.state) params.set("state", view.state);
  if (view.q) params.set("q", view.q);
  if (page > 1) params.set("page", String(page));
  const query = params.toString();
  return query ? `?${query}` : "";
}

export interface KeyRowProps {
  upstream: string;
  status: KeyStatus;
  now: number;
  csrf: string;
  test?: KeyTestResult;
  /** The list the row is in, for its delete to come back to. */
  view?: string;
}

/**
 * The button re-enabling every disabled key, in a place of its own: a row's action swaps it anew
 * beside the row (out of band), so it comes and goes as keys are disabled and enabled.
 */
export function ReenableAll(
  props: { upstream: string; disabled: number; csrf: string; view?: string; oob?: boolean },
) {
  return (
    <div id="keys-reenable" hx-swap-oob={props.oob ? "true" : undefined}>
      {props.disabled > 0 && (
        <ActionButton
          action={upstreamPath(props.upstream, "/keys/enable-all")}
          label={`Re-enable ${plural(props.disabled, "disabled key")}`}
          csrf={props.csrf}
          fields={props.view ? { view: props.view } : undefined}
        />
      )}
    </div>
  );
}

/** A row's action answered: the row, and the re-enable button as it now is. */
export function KeyRowAnswer(props: KeyRowProps & { disabled: number }) {
  return (
    <>
      <KeyRow {...props} />
      <ReenableAll
        upstream={props.upstream}
        disabled={props.disabled}
        csrf={props.csrf}
        view={props.view}
        oob
      />
    </>
  );
}

export function KeyRow(props: KeyRowProps) {
  const k = props.status;
  const base = upstreamPath(props.upstream, `/keys/${k.keyId}`);
  const target = "closest tr";
  return (
    <tr id={`key-${k.keyId}`}>
      <td data-label="#">{k.index}</td>
      <td data-label="Key">
        <code class="key">{k.masked}</code>
      </td>
      <td data-label="State">
        <KeyStateBadge status={k} now={props.now} />
        {props.test && (
          <div class={props.test.ok ? "test-result ok" : "test-result bad"} role="status">
            {props.test.ok ? "✓ " : "✗ "}
            {props.test.status ? `${props.test.status} · ` : ""}
            {props.test.message}
            {props.test.ms > 0 ? ` (${props.test.ms} ms)` : ""}
          </div>
        )}
      </td>
      {/* One cell per action, so each button sits in the same column on every row. */}
      <td class="act">
        <ActionButton
          action={`${base}/test`}
          label="Test"
          context={`key ${k.masked}`}
          id={`key-${k.keyId}-test`}
          title={`Send a tiny request with key ${k.masked}`}
          csrf={props.csrf}
          htmxTarget={target}
          fields={props.view ? { view: props.view } : undefined}
        />
      </td>
      <td class="act">
        {k.state === "disabled"
          ? (
            <ActionButton
              action={`${base}/enable`}
              label="Enable"
              context={`key ${k.masked}`}
              id={`key-${k.keyId}-toggle`}
              csrf={props.csrf}
              htmxTarget={target}
              fields={props.view ? { view: props.view } : undefined}
            />
          )
          : (
            <ActionButton
              action={`${base}/disable`}
              label="Disable"
              context={`key ${k.masked}`}
              id={`key-${k.keyId}-toggle`}
              csrf={props.csrf}
              htmxTarget={target}
              fields={props.view ? { view: props.view } : undefined}
            />
          )}
      </td>
      <td class="act">
        {k.state === "cooldown" && (
          <ActionButton
            action={`${base}/enable`}
            label="Retry now"
            context={`key ${k.masked}`}
            id={`key-${k.keyId}-retry`}
            title="End the cooldown"
            csrf={props.csrf}
            htmxTarget={target}
            fields={props.view ? { view: props.view } : undefined}
          />
        )}
      </td>
      <td class="act">
        <ActionButton
          action={`${base}/delete`}
          label="Delete"
          context={`key ${k.masked}`}
          id={`key-${k.keyId}-delete`}
          class="danger"
          csrf={props.csrf}
          fields={props.view ? { view: props.view } : undefined}
          confirm={`Delete key ${k.masked}?`}
        />
      </td>
    </tr>
  );
}

export interface KeysPageProps {
  chrome: Chrome;
  /** The targetStamp of the upstream. */
  shown: string;
  upstream: { name: string; serviceType: string; current: boolean };
  /** The keys of this page of the list. */
  keys: KeyStatus[];
  /** Keys of the upstream, and those the filter matches. */
  total: number;
  matching: number;
  counts: Record<typeof KEY_STATES[number], number>;
  view: KeysView;
  perPage: number;
  now: number;
  errors?: FieldErrors;
  /** The refused paste, shown again in the form. */
  keysInput?: string;
}

export function AddKeysForm(
  props: {
    csrf: string;
    upstream: string;
    /** The targetStamp of the upstream shown: keys go to no other server. */
    shown: string;
    errors?: FieldErrors;
    /** What was pasted, given back when it was refused, so nothing has to be pasted again. */
    value?: string;
  },
) {
  const errors = props.errors?.keys;
  return (
    <form
      id="add-keys-form"
      method="post"
      action={upstreamPath(props.upstream, "/keys")}
      class="card stack"
    >
      <FormGuards csrf={props.csrf} shown={props.shown} />
      <div class={errors?.length ? "field has-error" : "field"}>
        <label for="f-keys">Add keys</label>
        <textarea
          id="f-keys"
          name="keys"
          rows={4}
          autocomplete="off"
          spellcheck={false}
          placeholder="sk-... (one a line, or comma separated)"
          aria-describedby={errors?.length ? "f-keys-error f-keys-hint" : "f-keys-hint"}
          aria-invalid={errors?.length ? "true" : undefined}
        >
          {textareaValue(props.value)}
        </textarea>
        <p class="hint" id="f-keys-hint">
          Paste any number: one a line, or separated by commas. Blanks and keys already there are
          skipped.
        </p>
        <FieldError id="f-keys-error" errors={errors} />
      </div>
      <div class="row">
        <button type="submit">Add keys</button>
      </div>
    </form>
  );
}

const STATE_LABELS: Record<typeof KEY_STATES[number], string> = {
  active: "active",
  cooldown: "cooling down",
  disabled: "disabled",
};

/**
 * Find keys by state or by a piece of the key as shown (its start or its last characters). Sent
 * as a POST: a whole key typed in goes in no address (history, a reverse proxy's log); the answer
 * is the list's address, with the key masked.
 */
function KeysFilter(
  props: { base: string; view: KeysView; counts: KeysPageProps["counts"]; csrf: string },
) {
  const { view, counts } = props;
  return (
    <form class="row filters" method="post" action={`${props.base}/filter`} role="search">
      <FormGuards csrf={props.csrf} />
      <label>
        State{" "}
        <select name="state">
          <option value="" selected={!view.state}>any</option>
          {KEY_STATES.map((s) => (
            <option value={s} selected={view.state === s}>
              {STATE_LABELS[s]} ({counts[s]})
            </option>
          ))}
        </select>
      </label>
      <label>
        Key{" "}
        <input
          type="search"
          name="q"
          value={view.q}
          size={18}
          autocomplete="off"
          spellcheck={false}
          placeholder="sk-ab… or its last 4"
        />
      </label>
      <button type="submit" class="secondary">Filter</button>
    </form>
  );
}

/** Where this page of the list sits, and the way to the pages beside it. */
function KeysPager(props: { base: string; view: KeysView; matching: number; perPage: number }) {
  const { view, matching, perPage } = props;
  const last = Math.max(1, Math.ceil(matching / perPage));
  if (last === 1) return null;
  const from = (view.page - 1) * perPage + 1;
  const to = Math.min(view.page * perPage, matching);
  return (
    <nav class="row pager" aria-label="Pages of keys">
      {view.page > 1 && (
        <a class="button secondary" href={props.base + keysViewQuery(view, view.page - 1)}>
          Previous
        </a>
      )}
      <span class="muted">
        Keys {from}–{to} of {matching} · page {view.page} of {last}
      </span>
      {view.page < last && (
        <a class="button secondary" href={props.base + keysViewQuery(view, view.page + 1)}>
          Next
        </a>
      )}
    </nav>
  );
}

export function KeysPage(props: KeysPageProps) {
  const { csrf } = props.chrome;
  const name = props.upstream.name;
  const base = upstreamPath(name, "/keys");
  const view = keysViewQuery(props.view);
  const filtered = props.view.state !== "" || props.view.q !== "";
  return (
    <AdminLayout title={`Keys of ${name}`} active="upstreams" chrome={props.chrome}>
      <div class="page-head">
        <h1>
          Keys of {name} {props.upstream.current && <span class="badge badge-info">current</span>}
        </h1>
        <a class="button secondary" href={upstreamPath(name)}>Edit upstream</a>
      </div>
      <p class="muted">
        {props.upstream.serviceType} · {plural(props.total, "key")}
      </p>
      <AddKeysForm
        csrf={csrf}
        upstream={name}
        shown={props.shown}
        errors={props.errors}
        value={props.keysInput}
      />
      {props.total > 0 && (
        <section class="card" aria-labelledby="keys-title">
          <div class="page-head">
            <h2 id="keys-title">Keys</h2>
            <ReenableAll upstream={name} disabled={props.counts.disabled} csrf={csrf} view={view} />
          </div>
          {(props.total > props.perPage || filtered) && (
            <KeysFilter base={base} view={props.view} counts={props.counts} csrf={csrf} />
          )}
          {filtered && (
            <p class="muted" role="status">
              {props.matching === 0
                ? "No key matches."
                : `${plural(props.matching, "key")} of ${props.total} match.`}{" "}
              <a href={base}>Show every key</a>
            </p>
          )}
          <KeysPager
            base={base}
            view={props.view}
            matching={props.matching}
            perPage={props.perPage}
          />
          {props.keys.length > 0 && (
            <table class="list keys">
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">Key</th>
                  <th scope="col">State</th>
                  <th scope="col" colspan={4}>
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {props.keys.map((k) => (
                  <KeyRow
                    upstream={name}
                    status={k}
                    now={props.now}
                    csrf={csrf}
                    view={view || undefined}
                  />
                ))}
              </tbody>
            </table>
          )}
          <KeysPager
            base={base}
            view={props.view}
            matching={props.matching}
            perPage={props.perPage}
          />
        </section>
      )}
    </AdminLayout>
  );
}

/**
 * Keys pasted for an upstream that is gone (renamed or deleted elsewhere): given back, to be
 * added to the one meant, instead of lost or sent to whatever took the name.
 */
export function KeysNotAddedPage(props: { chrome: Chrome; upstream: string; value: string }) {
  return (
    <AdminLayout title="Keys not added" active="upstreams" chrome={props.chrome}>
      <section class="card stack">
        <h1>Keys not added</h1>
        <p>
          There is no upstream “<Name name={props.upstream} />” any more (it was renamed or deleted
          elsewhere), so no key was added. The keys you pasted are below, to add to the upstream
          they are for.
        </p>
        <label for="f-kept-keys">The keys you pasted</label>
        <textarea id="f-kept-keys" rows={4} readonly autocomplete="off" spellcheck={false}>
          {textareaValue(props.value)}
        </textarea>
        <p>
          <a class="button" href="/admin/upstreams">Upstreams</a>
        </p>
      </section>
    </AdminLayout>
  );
}
