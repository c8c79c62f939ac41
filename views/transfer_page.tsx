// Import (upload or paste, preview the changes, apply) and export of the whole configuration.
import type { ConfigDiff } from "../lib/config_diff.ts";
import {
  FieldError,
  type FieldErrors,
  FormErrors,
  FormGuards,
  textareaValue,
  TextItems,
} from "./form_parts.tsx";
import { plural } from "./format.tsx";
import { AdminLayout, type Chrome } from "./layout.tsx";

function DiffSummary(props: { diff: ConfigDiff }) {
  const d = props.diff;
  if (!d.hasChanges) return <p>The import is the same as the current configuration.</p>;
  return (
    <ul class="diff">
      {d.added.map((n) => (
        <li class="diff-added">
          <strong>{n}</strong>: added
        </li>
      ))}
      {d.removed.map((n) => (
        <li class="diff-removed">
          <strong>{n}</strong>: removed
        </li>
      ))}
      {d.changed.map((c) => (
        <li class="diff-changed">
          <strong>{c.name}</strong>: {[
            c.fields.length ? `changes ${c.fields.join(", ")}` : "",
            c.keysAdded ? `${plural(c.keysAdded, "key")} added` : "",
            c.keysRemoved ? `${plural(c.keysRemoved, "key")} removed` : "",
          ].filter(Boolean).join("; ")}
        </li>
      ))}
      {d.unchanged.length > 0 && <li class="muted">Unchanged: {d.unchanged.join(", ")}</li>}
      {d.reordered && <li>The order of the upstreams changes.</li>}
      <li>
        Keys: {d.keys.before} → {d.keys.after}
      </li>
      {d.strategy && (
        <li>
          Strategy: {d.strategy.before} → {d.strategy.after}
        </li>
      )}
      {d.current && (
        <li>
          Current upstream: {d.current.before ?? "none"} → {d.current.after ?? "none"}
        </li>
      )}
    </ul>
  );
}

export interface TransferPageProps {
  chrome: Chrome;
  version: string | null;
  errors?: FieldErrors;
  formErrors?: string[];
  /** The refused configuration text, shown again in the paste box to be corrected. */
  input?: string;
  /** A checked import waiting to be applied: its diff and the sealed document. */
  preview?: { diff: ConfigDiff; sealed: string; upstreams: number; notes?: string[] };
}

export function TransferPage(props: TransferPageProps) {
  const { csrf } = props.chrome;
  const problems = props.errors?.config;
  return (
    <AdminLayout title="Import / export" active="transfer" chrome={props.chrome}>
      <h1>Import / export</h1>
      {props.preview && (
        <section class="card stack" aria-labelledby="preview-title" id="import-preview">
          <h2 id="preview-title">What the import changes</h2>
          <DiffSummary diff={props.preview.diff} />
          {props.preview.notes?.map((note) => <p class="hint" key={note}>{note}.</p>)}
          <FormErrors errors={props.formErrors} />
          <form method="post" action="/admin/transfer/apply" class="row">
            <FormGuards csrf={csrf} version={props.version} />
            <input type="hidden" name="sealed" value={props.preview.sealed} />
            <button type="submit" disabled={!props.preview.diff.hasChanges}>
              Apply the import
            </button>
            <a class="button secondary" href="/admin/transfer">Cancel</a>
          </form>
        </section>
      )}
      <section class="card stack" aria-labelledby="export-title">
        <h2 id="export-title">Export</h2>
        <p>
          The whole configuration as JSON, <strong>keys included</strong>: keep the file safe.
        </p>
        <p>
          <a class="button" href="/admin/export" hx-boost="false">
            Download config.json
          </a>
        </p>
      </section>
      <form
        id="import-form"
        method="post"
        action="/admin/transfer/preview"
        enctype="multipart/form-data"
        hx-push-url="false"
        class="card stack"
      >
        <h2>Import</h2>
        <p>
          An export, or the <code>config.json</code>{" "}
          of the original proxy. Nothing changes until you have seen the differences and applied
          them.
        </p>
        <FormGuards csrf={csrf} version={props.version} />
        {!props.preview && <FormErrors errors={props.formErrors} />}
        <div class="field">
          <label for="f-file">File</label>
          <input id="f-file" name="file" type="file" accept=".json,application/json" />
        </div>
        <div class={problems?.length ? "field has-error" : "field"}>
          <label for="f-config">Or paste the JSON</label>
          <textarea
            id="f-config"
            name="config"
            rows={8}
            spellcheck={false}
            autocomplete="off"
            aria-describedby={problems?.length ? "f-config-error" : undefined}
            aria-invalid={problems?.length ? "true" : undefined}
          >
            {textareaValue(props.input)}
          </textarea>
          {problems?.length
            ? (
              <div class="field-error" id="f-config-error">
                <p>The configuration was not imported:</p>
                <ul>
                  <TextItems items={problems} />
                </ul>
              </div>
            )
            : <FieldError id="f-config-error" errors={problems} />}
        </div>
        <div class="row">
          <button type="submit">Preview the import</button>
        </div>
      </form>
    </AdminLayout>
  );
}
