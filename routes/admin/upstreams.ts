// /admin/upstreams: list, add, edit, delete (after a confirmation page), make current, reorder.
import { Hono } from "hono";
import {
  addUpstream,
  AdminInputError,
  checkTarget,
  editUpstream,
  InvalidConfigError,
  moveUpstream,
  problemsByField,
  removeUpstream,
  settingsStamp,
  storeTarget,
  type UpstreamInput,
  useUpstream,
} from "../../lib/admin_service.ts";
import { MAX_TOKENS_CAP } from "../../lib/config_document.ts";
import { maskUrl } from "../../lib/secret_mask.ts";
import { healthId } from "../../lib/key_pool.ts";
import { providerChoices, variantChoices } from "../../lib/providers/registry.ts";
import { MAX_TOKENS_FIELDS } from "../../lib/providers/types.ts";
import type { UpstreamConfig } from "../../lib/providers/types.ts";
import type { Services } from "../../lib/services.ts";
import type { FieldErrors } from "../../views/form_parts.tsx";
import { upstreamPath } from "../../views/format.tsx";
import {
  emptyUpstreamValues,
  UpstreamForm,
  UpstreamFormPage,
  type UpstreamFormProps,
  type UpstreamFormValues,
} from "../../views/upstream_form.tsx";
import { DeleteUpstreamPage, UpstreamsPage } from "../../views/upstreams_page.tsx";
import {
  type AdminContext,
  chrome,
  errorText,
  field,
  formShown,
  formVersion,
  readForm,
  redirectWith,
  rerender,
  statusFor,
  upstreamInPath,
} from "./respond.ts";
import type { AdminEnv } from "./session.ts";

/**
 * The kinds for the picker: each provider, then the variants of their own (custom). Plain aliases
 * (claude) are not offered; an upstream that has one keeps it (the form lists its own kind).
 */
function kindChoices(): UpstreamFormProps["kinds"] {
  const primary = providerChoices().map((k) => ({ ...k, primary: true }));
  const variants = variantChoices().map((k) => ({ ...k, defaultBaseUrl: "", primary: false }));
  return [...primary, ...variants];
}

/** The form's strings as an upstream, with the mistakes a form can make before validation. */
function parseUpstreamForm(
  form: FormData,
): { values: UpstreamFormValues; input: UpstreamInput; errors: FieldErrors } {
  const from = form.getAll("modelFrom").map(String);
  const to = form.getAll("modelTo").map(String);
  const values: UpstreamFormValues = {
    name: field(form, "name").trim(),
    serviceType: field(form, "serviceType").trim(),
    baseUrl: field(form, "baseUrl").trim(),
    description: field(form, "description").trim(),
    fallback: field(form, "fallback").trim(),
    maxTokens: field(form, "maxTokens").trim(),
    maxTokensField: field(form, "maxTokensField").trim(),
    modelRows: from.map((f, i) => ({ from: f.trim(), to: (to[i] ?? "").trim() }))
      .filter((r) => r.from || r.to),
    modelDefault: field(form, "modelDefault").trim(),
  };
  const errors: FieldErrors = {};
  const add = (f: string, message: string) => (errors[f] ??= []).push(message);

  const kind = providerChoices().find((k) => k.kind === values.serviceType);
  const baseUrl = values.baseUrl || kind?.defaultBaseUrl || "";
  if (!values.baseUrl && !kind) add("baseUrl", "must not be empty");

  // A map: a row named "constructor" is no duplicate of a plain object's own member.
  const models = new Map<string, string>();
  values.modelRows.forEach((r, i) => {
    if (!r.from || !r.to) {
      add("models", `row ${i + 1} needs both the requested name and the upstream model`);
    } else if (r.from.toLowerCase() === "default") {
      add("models", `row ${i + 1}: use the default field below for "default"`);
    } else if (models.has(r.from)) {
      add("models", `"${r.from}" is mapped twice`);
    } else {
      models.set(r.from, r.to);
    }
  });
  if (values.modelDefault) models.set("default", values.modelDefault);

  let maxTokens: number | undefined;
  if (values.maxTokens) {
    // Digits only: Number() would also take 0x10, 1e3 and numbers too large to be exact.
    const n = /^\d{1,7}$/.test(values.maxTokens) ? Number(values.maxTokens) : NaN;
    if (n >= 1 && n <= MAX_TOKENS_CAP) maxTokens = n;
    else {add(
        "maxTokens",
        `must be a whole number from 1 to ${MAX_TOKENS_CAP.toLocaleString("en-US")}`,
      );}
  }
  const mtf = values.maxTokensField;
  if (mtf && !(MAX_TOKENS_FIELDS as readonly string[]).includes(mtf)) {
    add("maxTokensField", `must be ${MAX_TOKENS_FIELDS.join(" or ")}`);
  }

  const input: UpstreamInput = {
    name: values.name,
    baseUrl,
    serviceType: values.serviceType,
    description: values.description || undefined,
    models: models.size ? Object.fromEntries(models) : undefined,
    fallback: values.fallback || undefined,
    maxTokens,
    maxTokensField: (mtf || undefined) as UpstreamInput["maxTokensField"],
  };
  return { values, input, errors };
}

function valuesOf(u: UpstreamConfig): UpstreamFormValues {
  const models = { ...(u.models ?? {}) };
  const modelDefault = models.default ?? "";
  delete models.default;
  return {
    name: u.name,
    serviceType: u.serviceType,
    baseUrl: u.baseUrl,
    description: typeof u.description === "string" ? u.description : "",
    fallback: u.fallback ?? "",
    maxTokens: u.maxTokens !== undefined ? String(u.maxTokens) : "",
    maxTokensField: u.maxTokensField ?? "",
    modelRows: Object.entries(models).map(([from, to]) => ({ from, to })),
    modelDefault,
  };
}

export function upstreamRoutes(services: Services): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const target = storeTarget(services.store);

  const listPage = (c: AdminContext, notice?: { kind: "ok" | "error"; text: string }) => {
    const { doc, version } = services.store.snapshot;
    const disabled = new Set(
      services.health.list().filter((s) => s.state === "disabled").map((s) => s.healthId),
    );
    return UpstreamsPage({
      chrome: chrome(c, notice),
      version,
      upstreams: doc.upstream.map((u, index) => {
        return {
          index,
          name: u.name,
          serviceType: u.serviceType,
          baseUrl: maskUrl(u.baseUrl),
          description: typeof u.description === "string" ? u.description : undefined,
          keyCount: u.apiKeys.length,
          disabledKeys: u.apiKeys.filter((k) => disabled.has(healthId(u.baseUrl, k))).length,
          current: index === doc.currentUpstream,
          fallback: u.fallback,
        };
      }),
    });
  };

  const notFound = (c: AdminContext) =>
    c.html(
      listPage(c, { kind: "error", text: `There is no upstream “${c.req.param("name")}”.` }),
      404,
    );

  const formProps = (
    c: AdminContext,
    values: UpstreamFormValues,
    originalName: string | undefined,
    shown?: string,
  ): UpstreamFormProps => ({
    csrf: c.get("csrfToken"),
    originalName,
    values,
    shown,
    kinds: kindChoices(),
    otherUpstreams: services.store.snapshot.doc.upstream.map((u) => u.name)
      .filter((n) => n.toLowerCase() !== (originalName ?? values.name).toLowerCase()),
  });

  const formError = (
    c: AdminContext,
    props: UpstreamFormProps,
    err: unknown,
    index: number,
    preErrors: FieldErrors = {},
  ) => {
    const status = statusFor(err) ?? 422;
    const full: UpstreamFormProps = { ...props, errors: preErrors };
    if (err instanceof InvalidConfigError) {
      const names = services.store.snapshot.doc.upstream.map((u) => u.name);
      const byField = problemsByField(err.problems, index, names);
      for (const [f, msgs] of Object.entries(byField)) (full.errors![f] ??= []).push(...msgs);
    } else if (status === 409) {
      // Saved again, the entries replace the settings as they are now.
      const name = props.originalName?.toLowerCase();
      const now = services.store.snapshot.doc.upstream.find((u) => u.name.toLowerCase() === name);
      full.formErrors = [
        `“${props.originalName}” was changed elsewhere since this page was loaded, so nothing ` +
        "was saved.",
      ];
      full.conflict = true;
      if (now) full.shown = settingsStamp(now);
    } else if (err instanceof Error && err !== FORM_ERRORS) {
      full.formErrors = [err.message];
    }
    return rerender(
      c,
      status,
      () => UpstreamFormPage({ ...full, chrome: chrome(c) }),
      { id: "upstream-form", render: () => UpstreamForm(full) },
    );
  };

  /**
   * What the document itself would refuse of a form's change, found without saving it: a form
   * with errors of its own shows these too, every problem at once.
   */
  const check = checkTarget(services.store);
  const refusalOf = async (change: () => Promise<unknown>): Promise<unknown> => {
    try {
      await change();
    } catch (err) {
      if (err instanceof InvalidConfigError || err instanceof AdminInputError) return err;
    }
    return FORM_ERRORS;
  };

  app.get("/", (c) => c.html(listPage(c)));

  app.get("/new", (c) => {
    const kind = c.req.query("kind") ?? providerChoices()[0]?.kind ?? "";
    return c.html(UpstreamFormPage({
      ...formProps(c, emptyUpstreamValues(kind), undefined),
      chrome: chrome(c),
    }));
  });

  app.post("/new", async (c) => {
    const form = await readForm(c);
    const { values, input, errors } = parseUpstreamForm(form);
    const props = formProps(c, values, undefined);
    const index = services.store.snapshot.doc.upstream.length;
    if (Object.keys(errors).length) {
      const refused = await refusalOf(() => addUpstream(check, input));
      return formError(c, props, refused, index, errors);
    }
    let name: string;
    try {
      // The stored name, normalised by validation, is the one its pages answer to.
      name = (await addUpstream(target, input)).doc.upstream.at(-1)!.name;
    } catch (err) {
      if (statusFor(err) === null) throw err;
      return formError(c, props, err, index);
    }
    return redirectWith(c, upstreamPath(name, "/keys"), {
      kind: "ok",
      text: `Upstream “${name}” added. Now add its keys.`,
    });
  });

  app.get("/:name", (c) => {
    const found = upstreamInPath(c, services.store.snapshot.doc);
    if (!found) return notFound(c);
    const u = found.doc.upstream[found.index];
    return c.html(UpstreamFormPage({
      ...formProps(c, valuesOf(u), u.name, settingsStamp(u)),
      chrome: chrome(c),
    }));
  });

  app.post("/:name", async (c) => {
    const found = upstreamInPath(c, services.store.snapshot.doc);
    const form = await readForm(c);
    if (!found) {
      // Gone meanwhile (renamed or deleted elsewhere): the entries come back as a new upstream's.
      const props: UpstreamFormProps = {
        ...formProps(c, parseUpstreamForm(form).values, undefined),
        formErrors: [
          `There is no upstream “${c.req.param("name")}” any more (it was renamed or deleted ` +
          "elsewhere), so nothing was saved. Your entries are kept below: Add upstream saves " +
          "them as a new one.",
        ],
      };
      return rerender(
        c,
        404,
        () => UpstreamFormPage({ ...props, chrome: chrome(c) }),
        { id: "upstream-form", render: () => UpstreamForm(props) },
      );
    }
    const original = found.doc.upstream[found.index].name;
    const { values, input, errors } = parseUpstreamForm(form);
    const props = formProps(c, values, original, formShown(form));
    if (Object.keys(errors).length) {
      const refused = await refusalOf(() => editUpstream(check, original, input));
      return formError(c, props, refused, found.index, errors);
    }
    let name: string;
    try {
      ({ name } = await editUpstream(target, original, input, props.shown));
    } catch (err) {
      if (statusFor(err) === null) throw err;
      return formError(c, props, err, found.index);
    }
    return redirectWith(c, "/admin/upstreams", { kind: "ok", text: `Upstream “${name}” saved.` });
  });

  app.get("/:name/delete", (c) => {
    const found = upstreamInPath(c, services.store.snapshot.doc);
    if (!found) return notFound(c);
    const u = found.doc.upstream[found.index];
    return c.html(DeleteUpstreamPage({
      chrome: chrome(c),
      version: services.store.snapshot.version,
      name: u.name,
      keyCount: u.apiKeys.length,
      current: found.index === found.doc.currentUpstream,
      referencedBy: found.doc.upstream
        .filter((o) => o.fallback?.toLowerCase() === u.name.toLowerCase()).map((o) => o.name),
    }));
  });

  /** A one-button action on the list: done → back to the list; refused → the list, saying why. */
  const listAction = (
    path: string,
    act: (name: string, form: FormData, version: string | null | undefined) => Promise<string>,
  ) => {
    app.post(path, async (c) => {
      const found = upstreamInPath(c, services.store.snapshot.doc);
      if (!found) return notFound(c);
      const form = await readForm(c);
      const name = found.doc.upstream[found.index].name;
      try {
        const text = await act(name, form, formVersion(form));
        return redirectWith(c, "/admin/upstreams", { kind: "ok", text });
      } catch (err) {
        const status = statusFor(err);
        if (status === null) throw err;
        const text = errorText(err, status);
        return rerender(c, status, () => listPage(c, { kind: "error", text }));
      }
    });
  };

  listAction("/:name/delete", async (name, _form, version) => {
    await removeUpstream(target, name, version);
    return `Upstream “${name}” deleted.`;
  });

  listAction("/:name/use", async (name, _form, version) => {
    await useUpstream(target, name, version);
    return `“${name}” now serves every request.`;
  });

  listAction("/:name/move", async (name, form, version) => {
    const direction = field(form, "direction");
    if (direction !== "up" && direction !== "down") {
      throw new AdminInputError("Move an upstream up or down.", "direction");
    }
    const up = direction === "up";
    await moveUpstream(target, name, up ? -1 : 1, version);
    return `“${name}” moved ${up ? "up" : "down"}.`;
  });

  return app;
}

/** Marks a failure already described field by field. */
const FORM_ERRORS = new InvalidConfigError([]);
