// Add or edit an upstream: kind, base URL, the model map as rows, fallback and token limits.
import { MAX_TOKENS_FIELDS } from "../lib/providers/types.ts";
import {
  FieldError,
  type FieldErrors,
  FormErrors,
  FormGuards,
  SelectField,
  TextField,
} from "./form_parts.tsx";
import { upstreamPath } from "./format.tsx";
import { AdminLayout, type Chrome } from "./layout.tsx";

export interface UpstreamFormValues {
  name: string;
  serviceType: string;
  baseUrl: string;
  description: string;
  fallback: string;
  maxTokens: string;
  maxTokensField: string;
  modelRows: Array<{ from: string; to: string }>;
  modelDefault: string;
}

export interface UpstreamFormProps {
  csrf: string;
  /** The name the upstream had when the form was opened; absent for a new one. */
  originalName?: string;
  values: UpstreamFormValues;
  errors?: FieldErrors;
  /** Problems not tied to one field (a conflict). */
  formErrors?: string[];
  conflict?: boolean;
  /** An edit's settingsStamp of the upstream as the form shows it; none for a new one. */
  shown?: string;
  /** `primary`: the provider's own name; the others are variants of their own (custom). */
  kinds: Array<{ kind: string; label: string; defaultBaseUrl: string; primary: boolean }>;
  otherUpstreams: string[];
}

const BLANK_ROWS = 2;

export function emptyUpstreamValues(kind = ""): UpstreamFormValues {
  return {
    name: "",
    serviceType: kind,
    baseUrl: "",
    description: "",
    fallback: "",
    maxTokens: "",
    maxTokensField: "",
    modelRows: [],
    modelDefault: "",
  };
}

export function UpstreamForm(props: UpstreamFormProps) {
  const v = props.values;
  const errors = props.errors ?? {};
  const isNew = props.originalName === undefined;
  const action = isNew ? "/admin/upstreams/new" : upstreamPath(props.originalName!);
  const kindOptions = props.kinds.map((k) => ({ value: k.kind, label: `${k.label} (${k.kind})` }));
  if (v.serviceType && !kindOptions.some((o) => o.value === v.serviceType)) {
    kindOptions.push({ value: v.serviceType, label: v.serviceType });
  }
  const rows = [
    ...v.modelRows,
    ...Array.from({ length: BLANK_ROWS }, () => ({ from: "", to: "" })),
  ];
  const defaults = props.kinds.filter((k) => k.primary).map((k) => `${k.kind}: ${k.defaultBaseUrl}`)
    .join(" · ");
  return (
    <form
      id="upstream-form"
      method="post"
      action={action}
      class="card stack"
      novalidate
      hx-history="false"
    >
      <FormGuards csrf={props.csrf} shown={props.shown} />
      <FormErrors errors={props.formErrors}>
        {props.conflict && (
          <p>
            Your entries are kept below: save again to put them in place of the current settings, or
            {" "}
            <a href={action}>reload</a> to see those.
          </p>
        )}
      </FormErrors>
      <FormErrors errors={errors[""]} />
      <div class="grid-2">
        <TextField
          name="name"
          label="Name"
          value={v.name}
          errors={errors}
          required
          hint="Used in addresses, logs and fallbacks; up to 64 characters, no /."
        />
        <SelectField
          name="serviceType"
          label="Kind"
          value={v.serviceType}
          options={kindOptions}
          errors={errors}
          hint="The wire format the upstream speaks."
        />
      </div>
      <TextField
        name="baseUrl"
        label="Base URL"
        value={v.baseUrl}
        errors={errors}
        type="url"
        inputmode="url"
        placeholder="https://api.openai.com"
        hint={`With or without /v1. Left empty: the kind's default (${defaults}).`}
      />
      <TextField name="description" label="Description (optional)" value={v.description} />

      <fieldset class={errors.models?.length ? "has-error" : undefined}>
        <legend>Model map</legend>
        <p class="hint" id="models-hint">
          A requested model matches an exact name first, then a family (haiku, sonnet, opus: any
          name containing the word), then the default. With no match, the name is passed on as it
          is.
        </p>
        <datalist id="model-families">
          <option value="haiku"></option>
          <option value="sonnet"></option>
          <option value="opus"></option>
        </datalist>
        <div class="model-rows" role="group" aria-describedby="models-hint">
          <div class="model-row model-head" aria-hidden="true">
            <span>Requested (name or family)</span>
            <span>Upstream model</span>
          </div>
          {rows.map((row, i) => (
            <div class="model-row">
              <label class="visually-hidden" for={`f-modelFrom-${i}`}>
                Row {i + 1}: requested model or family
              </label>
              <input
                id={`f-modelFrom-${i}`}
                name="modelFrom"
                value={row.from}
                list="model-families"
                placeholder="sonnet"
                autocomplete="off"
              />
              <label class="visually-hidden" for={`f-modelTo-${i}`}>
                Row {i + 1}: upstream model
              </label>
              <input
                id={`f-modelTo-${i}`}
                name="modelTo"
                value={row.to}
                placeholder="gpt-4o"
                autocomplete="off"
              />
            </div>
          ))}
        </div>
        <TextField
          name="modelDefault"
          label="Default upstream model (optional)"
          value={v.modelDefault}
          placeholder="gpt-4o-mini"
          hint="For requested names no row matches."
        />
        <FieldError id="models-error" errors={errors.models} />
        <p class="hint">Save to get more empty rows.</p>
      </fieldset>

      <div class="grid-3">
        <SelectField
          name="fallback"
          label="Fallback upstream"
          value={v.fallback}
          options={[
            { value: "", label: "None" },
            ...props.otherUpstreams.map((n) => ({ value: n, label: n })),
          ]}
          errors={errors}
          hint="Takes a request when every key of this one failed."
        />
        <TextField
          name="maxTokens"
          label="Max tokens cap (optional)"
          value={v.maxTokens}
          errors={errors}
          inputmode="numeric"
          placeholder="8192"
          hint="Lowers a larger requested max_tokens."
        />
        <SelectField
          name="maxTokensField"
          label="Token limit field"
          value={v.maxTokensField}
          options={[
            { value: "", label: "Provider default" },
            ...MAX_TOKENS_FIELDS.map((f) => ({ value: f, label: f })),
          ]}
          errors={errors}
          hint="OpenAI-style upstreams; reasoning models want max_completion_tokens."
        />
      </div>
      <div class="row">
        <button type="submit">{isNew ? "Add upstream" : "Save changes"}</button>
        <a class="button secondary" href="/admin/upstreams">Cancel</a>
      </div>
    </form>
  );
}

export function UpstreamFormPage(props: UpstreamFormProps & { chrome: Chrome }) {
  const title = props.originalName === undefined ? "Add upstream" : `Edit ${props.originalName}`;
  return (
    <AdminLayout title={title} active="upstreams" chrome={props.chrome}>
      <div class="page-head">
        <h1>{title}</h1>
        {props.originalName !== undefined && (
          <a class="button secondary" href={upstreamPath(props.originalName, "/keys")}>Keys</a>
        )}
      </div>
      <UpstreamForm {...props} />
    </AdminLayout>
  );
}
