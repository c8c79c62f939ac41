// The keys of one upstream: paste many, test, enable/disable, delete. Keys are only ever shown masked.
import type { KeyStatus } from "../lib/key_status.ts";
import {
  ActionButton,
  FieldError,
  type FieldErrors,
  FormGuards,
  textareaValue,
} from "./form_parts.tsx";
import { plural, upstreamPath } from "./format.tsx";
import { KeyStateBadge } from "./key_states.tsx";
import { AdminLayout, type Chrome } from "./layout.tsx";

export interface KeyTestResult {
  ok: boolean;
  status: number;
  message: string;
  ms: number;
}

export interface KeyRowProps {
  upstream: string;
  status: KeyStatus;
  now: number;
  csrf: string;
  version: string | null;
  test?: KeyTestResult;
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
          title={`Send a tiny request with key ${k.masked}`}
          csrf={props.csrf}
          htmxTarget={target}
        />
      </td>
      <td class="act">
        {k.state === "disabled"
          ? (
            <ActionButton
              action={`${base}/enable`}
              label="Enable"
              csrf={props.csrf}
              htmxTarget={target}
            />
          )
          : (
            <ActionButton
              action={`${base}/disable`}
              label="Disable"
              csrf={props.csrf}
              htmxTarget={target}
            />
          )}
      </td>
      <td class="act">
        {k.state === "cooldown" && (
          <ActionButton
            action={`${base}/enable`}
            label="Retry now"
            title="End the cooldown"
            csrf={props.csrf}
            htmxTarget={target}
          />
        )}
      </td>
      <td class="act">
        <ActionButton
          action={`${base}/delete`}
          label="Delete"
          class="danger"
          csrf={props.csrf}
          version={props.version}
          confirm={`Delete key ${k.masked}?`}
        />
      </td>
    </tr>
  );
}

export interface KeysPageProps {
  chrome: Chrome;
  version: string | null;
  upstream: { name: string; serviceType: string; current: boolean };
  keys: KeyStatus[];
  now: number;
  errors?: FieldErrors;
  /** The refused paste, shown again in the form. */
  keysInput?: string;
  tests?: Record<string, KeyTestResult>;
}

export function AddKeysForm(
  props: {
    csrf: string;
    version: string | null;
    upstream: string;
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
      <FormGuards csrf={props.csrf} version={props.version} />
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

export function KeysPage(props: KeysPageProps) {
  const { csrf } = props.chrome;
  const name = props.upstream.name;
  const disabled = props.keys.filter((k) => k.state === "disabled").length;
  return (
    <AdminLayout title={`Keys of ${name}`} active="upstreams" chrome={props.chrome}>
      <div class="page-head">
        <h1>
          Keys of {name} {props.upstream.current && <span class="badge badge-info">current</span>}
        </h1>
        <a class="button secondary" href={upstreamPath(name)}>Edit upstream</a>
      </div>
      <p class="muted">
        {props.upstream.serviceType} · {plural(props.keys.length, "key")}
      </p>
      <AddKeysForm
        csrf={csrf}
        version={props.version}
        upstream={name}
        errors={props.errors}
        value={props.keysInput}
      />
      {props.keys.length > 0 && (
        <section class="card" aria-labelledby="keys-title">
          <div class="page-head">
            <h2 id="keys-title">Keys</h2>
            {disabled > 0 && (
              <ActionButton
                action={upstreamPath(name, "/keys/enable-all")}
                label={`Re-enable ${plural(disabled, "disabled key")}`}
                csrf={csrf}
              />
            )}
          </div>
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
                  version={props.version}
                  test={props.tests?.[k.keyId]}
                />
              ))}
            </tbody>
          </table>
        </section>
      )}
    </AdminLayout>
  );
}
