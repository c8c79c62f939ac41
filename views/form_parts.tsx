// Form pieces shared by the admin pages: labelled fields with their errors beside them.
import type { Child } from "hono/jsx";

export type FieldErrors = Record<string, string[] | undefined>;

/** The hidden fields every state-changing form carries. */
/**
 * A form's CSRF token, and what it was rendered from: `version`, the whole document's (a form that
 * conflicts with any change), or `shown`, a stamp of only what it shows (one that conflicts with a
 * change to that alone).
 */
export function FormGuards(props: { csrf: string; version?: string | null; shown?: string }) {
  return (
    <>
      <input type="hidden" name="_csrf" value={props.csrf} />
      {props.version !== undefined && (
        <input type="hidden" name="version" value={props.version ?? ""} />
      )}
      {props.shown !== undefined && <input type="hidden" name="shown" value={props.shown} />}
    </>
  );
}

export function FieldError(props: { id: string; errors?: string[] }) {
  if (!props.errors?.length) return null;
  return (
    <p class="field-error" id={props.id}>
      {props.errors.join("; ")}
    </p>
  );
}

/** `<li>`s of plain text; hono/jsx renders to a string and needs no keys. */
export function TextItems(props: { items: string[] }) {
  // deno-lint-ignore jsx-key
  const items = props.items.map((text) => <li>{text}</li>);
  return <>{items}</>;
}

/** Errors not tied to one field (a conflict, a rule spanning fields). */
export function FormErrors(props: { errors?: string[]; children?: Child }) {
  if (!props.errors?.length) return null;
  return (
    <div class="notice notice-error" role="alert">
      {props.errors.length === 1 ? props.errors[0] : (
        <ul>
          <TextItems items={props.errors} />
        </ul>
      )}
      {props.children}
    </div>
  );
}

export function TextField(
  props: {
    name: string;
    label: string;
    value?: string;
    errors?: FieldErrors;
    hint?: Child;
    type?: string;
    required?: boolean;
    placeholder?: string;
    autocomplete?: string;
    inputmode?: "text" | "url" | "numeric";
    list?: string;
  },
) {
  const id = `f-${props.name}`;
  const errors = props.errors?.[props.name];
  const described = [errors?.length ? `${id}-error` : "", props.hint ? `${id}-hint` : ""]
    .filter(Boolean).join(" ") || undefined;
  return (
    <div class={errors?.length ? "field has-error" : "field"}>
      <label for={id}>{props.label}</label>
      <input
        id={id}
        name={props.name}
        type={props.type ?? "text"}
        value={props.value ?? ""}
        required={props.required}
        placeholder={props.placeholder}
        autocomplete={props.autocomplete ?? "off"}
        inputmode={props.inputmode}
        list={props.list}
        aria-invalid={errors?.length ? "true" : undefined}
        aria-describedby={described}
      />
      {props.hint && <p class="hint" id={`${id}-hint`}>{props.hint}</p>}
      <FieldError id={`${id}-error`} errors={errors} />
    </div>
  );
}

export function SelectField(
  props: {
    name: string;
    label: string;
    value?: string;
    options: Array<{ value: string; label: string }>;
    errors?: FieldErrors;
    hint?: Child;
  },
) {
  const id = `f-${props.name}`;
  const errors = props.errors?.[props.name];
  const described = [errors?.length ? `${id}-error` : "", props.hint ? `${id}-hint` : ""]
    .filter(Boolean).join(" ") || undefined;
  return (
    <div class={errors?.length ? "field has-error" : "field"}>
      <label for={id}>{props.label}</label>
      <select
        id={id}
        name={props.name}
        aria-invalid={errors?.length ? "true" : undefined}
        aria-describedby={described}
      >
        {props.options.map((o) => (
          <option value={o.value} selected={o.value === props.value}>{o.label}</option>
        ))}
      </select>
      {props.hint && <p class="hint" id={`${id}-hint`}>{props.hint}</p>}
      <FieldError id={`${id}-error`} errors={errors} />
    </div>
  );
}

/** A one-button form posting to `action` (make current, move, enable...). */
export function ActionButton(
  props: {
    action: string;
    label: string;
    csrf: string;
    version?: string | null;
    fields?: Record<string, string>;
    class?: string;
    title?: string;
    confirm?: string;
    htmxTarget?: string;
    /** The button's id: the same on the element swapped in, htmx gives it the focus back. */
    id?: string;
    /** What the button acts on (`key sk-…12`), for screen readers: every row has its own. */
    context?: string;
  },
) {
  return (
    <form
      method="post"
      action={props.action}
      class="inline"
      hx-confirm={props.confirm}
      hx-post={props.htmxTarget ? props.action : undefined}
      hx-target={props.htmxTarget}
      hx-swap={props.htmxTarget ? "outerHTML" : undefined}
    >
      <FormGuards csrf={props.csrf} version={props.version} />
      {Object.entries(props.fields ?? {}).map(([name, value]) => (
        <input type="hidden" name={name} value={value} />
      ))}
      <button type="submit" id={props.id} class={props.class ?? "secondary"} title={props.title}>
        {props.label}
        {props.context && <span class="visually-hidden">{` ${props.context}`}</span>}
      </button>
    </form>
  );
}

/** A textarea's content: HTML drops one newline right after <textarea>, so one is given to drop. */
export function textareaValue(value: string | undefined): string {
  return value ? `\n${value}` : "";
}
