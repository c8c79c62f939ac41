// /admin/upstreams/:name/keys: paste keys, test, enable/disable (row fragments), delete.
import { Hono } from "hono";
import { addKeys, findKey, findUpstream, removeKey, storeTarget } from "../../lib/admin_service.ts";
import type { ConfigDocument } from "../../lib/config_document.ts";
import { probeKey } from "../../lib/key_probe.ts";
import { disableKey, enableAllKeys, enableKey, keyStatuses } from "../../lib/key_status.ts";
import type { Services } from "../../lib/services.ts";
import type { FieldErrors } from "../../views/form_parts.tsx";
import { plural, upstreamPath } from "../../views/format.tsx";
import {
  AddKeysForm,
  KeyRow,
  KeysPage,
  type KeysPageProps,
  type KeyTestResult,
} from "../../views/keys_page.tsx";
import type { Notice } from "../../views/layout.tsx";
import {
  type AdminContext,
  chrome,
  errorText,
  field,
  formVersion,
  readForm,
  redirectWith,
  rerender,
  statusFor,
  upstreamInPath,
} from "./respond.ts";
import { type AdminEnv, isHtmx } from "./session.ts";

export function keysRoutes(services: Services): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const target = storeTarget(services.store);

  const page = (
    c: AdminContext,
    extra: {
      notice?: Notice;
      errors?: FieldErrors;
      keysInput?: string;
      tests?: Record<string, KeyTestResult>;
    } = {},
  ) => {
    const { doc, version } = services.store.snapshot;
    const index = findUpstream(doc, c.req.param("name") ?? "");
    const status = keyStatuses(doc, services.health.list(), services.log.redact)[index];
    const props: KeysPageProps = {
      chrome: chrome(c, extra.notice),
      version,
      upstream: { name: status.name, serviceType: status.serviceType, current: status.current },
      keys: status.keys,
      now: services.now(),
      errors: extra.errors,
      keysInput: extra.keysInput,
      tests: extra.tests,
    };
    return KeysPage(props);
  };

  const notFound = (c: AdminContext) =>
    redirectWith(c, "/admin/upstreams", {
      kind: "error",
      text: `There is no upstream “${c.req.param("name")}”.`,
    });

  app.get("/:name/keys", (c) => {
    if (!upstreamInPath(c, services.store.snapshot.doc)) return notFound(c);
    return c.html(page(c));
  });

  app.post("/:name/keys", async (c) => {
    const found = upstreamInPath(c, services.store.snapshot.doc);
    if (!found) return notFound(c);
    const name = found.doc.upstream[found.index].name;
    const form = await readForm(c);
    const text = field(form, "keys");
    try {
      const r = await addKeys(target, name, text, formVersion(form));
      const skipped = [
        r.duplicates ? plural(r.duplicates, "duplicate") : "",
        r.blanks ? plural(r.blanks, "blank entry", "blank entries") : "",
      ].filter(Boolean).join(" and ");
      return redirectWith(c, upstreamPath(name, "/keys"), {
        kind: "ok",
        text: `Added ${plural(r.added, "key")}.` + (skipped ? ` Ignored ${skipped}.` : ""),
      });
    } catch (err) {
      const status = statusFor(err);
      if (status === null) throw err;
      const message = errorText(err, status);
      const errors = { keys: [message] };
      const { version } = services.store.snapshot;
      return rerender(c, status, () => page(c, { errors, keysInput: text }), {
        id: "add-keys-form",
        render: () =>
          AddKeysForm({
            csrf: c.get("csrfToken"),
            version: status === 409 ? formVersion(form) ?? null : version,
            upstream: name,
            errors,
            value: text,
          }),
      });
    }
  });

  app.post("/:name/keys/enable-all", async (c) => {
    const found = upstreamInPath(c, services.store.snapshot.doc);
    if (!found) return notFound(c);
    const name = found.doc.upstream[found.index].name;
    const n = await enableAllKeys(services.health, found.doc, name);
    return redirectWith(c, upstreamPath(name, "/keys"), {
      kind: "ok",
      text: `Re-enabled ${plural(n, "key")}.`,
    });
  });

  /** Health actions change no document: htmx gets the row back, a plain form the page. */
  const rowAction = (
    action: string,
    run: (doc: ConfigDocument, name: string, id: string) => Promise<KeyTestResult | void>,
  ) => {
    app.post(`/:name/keys/:id/${action}`, async (c) => {
      const found = upstreamInPath(c, services.store.snapshot.doc);
      if (!found) return notFound(c);
      const name = found.doc.upstream[found.index].name;
      const id = c.req.param("id");
      try {
        findKey(found.doc.upstream[found.index], id);
      } catch {
        return redirectWith(c, upstreamPath(name, "/keys"), {
          kind: "error",
          text: "That key is no longer there.",
        });
      }
      const test = await run(found.doc, name, id) ?? undefined;
      const { doc, version } = services.store.snapshot;
      const status = keyStatuses(
        doc,
        services.health.list(),
        services.log.redact,
      )[findUpstream(doc, name)]
        .keys.find((k) => k.keyId === id);
      if (isHtmx(c) && status) {
        return c.html(KeyRow({
          upstream: name,
          status,
          now: services.now(),
          csrf: c.get("csrfToken"),
          version,
          test,
        }));
      }
      if (test) return c.html(page(c, { tests: { [id]: test } }));
      return redirectWith(c, upstreamPath(name, "/keys"));
    });
  };

  rowAction("disable", (doc, name, id) => disableKey(services.health, doc, name, id));
  rowAction("enable", (doc, name, id) => enableKey(services.health, doc, name, id));
  rowAction("test", (doc, name, id) => {
    const u = doc.upstream[findUpstream(doc, name)];
    return probeKey(services, u, u.apiKeys[findKey(u, id)]);
  });

  app.post("/:name/keys/:id/delete", async (c) => {
    const found = upstreamInPath(c, services.store.snapshot.doc);
    if (!found) return notFound(c);
    const name = found.doc.upstream[found.index].name;
    const form = await readForm(c);
    try {
      const r = await removeKey(target, name, c.req.param("id"), formVersion(form));
      return redirectWith(c, upstreamPath(name, "/keys"), {
        kind: "ok",
        text: `Key ${r.masked} deleted.`,
      });
    } catch (err) {
      const status = statusFor(err);
      if (status === null) throw err;
      const text = errorText(err, status);
      return rerender(c, status, () => page(c, { notice: { kind: "error", text } }));
    }
  });

  return app;
}
