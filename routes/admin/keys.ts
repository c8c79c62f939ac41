// /admin/upstreams/:name/keys: paste keys, test, enable/disable (row fragments), delete.
import { Hono } from "hono";
import {
  addKeys,
  findKey,
  findUpstream,
  removeKey,
  storeTarget,
  targetStamp,
} from "../../lib/admin_service.ts";
import type { ConfigDocument } from "../../lib/config_document.ts";
import { testKey } from "../../lib/key_probe.ts";
import {
  disableKey,
  enableAllKeys,
  enableKey,
  type KeyStatus,
  keyStatuses,
  maskKeysIn,
  stateCounts,
} from "../../lib/key_status.ts";
import type { Services } from "../../lib/services.ts";
import type { FieldErrors } from "../../views/form_parts.tsx";
import { plural, upstreamPath } from "../../views/format.tsx";
import {
  AddKeysForm,
  KEY_STATES,
  KeyRowAnswer,
  KeysNotAddedPage,
  KeysPage,
  type KeysPageProps,
  type KeysView,
  keysViewQuery,
  type KeyTestResult,
} from "../../views/keys_page.tsx";
import type { Notice } from "../../views/layout.tsx";
import {
  type AdminContext,
  chrome,
  errorText,
  field,
  formShown,
  readForm,
  redirectWith,
  rerender,
  statusFor,
  upstreamInPath,
} from "./respond.ts";
import { type AdminEnv, isHtmx } from "./session.ts";

/** Keys a page lists: enough to find one by eye, few enough for the page to stay quick. */
const KEYS_PER_PAGE = 100;

/** The list's filter and page, from a query string (the page's address, or a form's `view`). */
function viewOf(params: URLSearchParams, doc: ConfigDocument): KeysView {
  const state = params.get("state") ?? "";
  const page = Number(params.get("page"));
  return {
    state: (KEY_STATES as readonly string[]).includes(state) ? state as KeysView["state"] : "",
    // A whole key pasted to find it is matched, and shown, as the page shows keys: masked.
    q: maskKeysIn((params.get("q") ?? "").trim().slice(0, 200), doc),
    page: Number.isInteger(page) && page > 1 ? page : 1,
  };
}

/** The query of the page an htmx request came from (a row's), else of the request itself. */
function pageParams(c: AdminContext): URLSearchParams {
  try {
    return new URL(c.req.header("hx-current-url") ?? c.req.url).searchParams;
  } catch {
    return new URLSearchParams();
  }
}

/** The keys the view shows, the page clamped to those there are. */
function inView(keys: KeyStatus[], view: KeysView): { shown: KeyStatus[]; matching: number } {
  const q = view.q.toLowerCase();
  const matching = keys.filter((k) =>
    (!view.state || k.state === view.state) &&
    (!q || k.masked.toLowerCase().includes(q) || k.keyId === view.q)
  );
  const last = Math.max(1, Math.ceil(matching.length / KEYS_PER_PAGE));
  view.page = Math.min(view.page, last);
  const from = (view.page - 1) * KEYS_PER_PAGE;
  return { shown: matching.slice(from, from + KEYS_PER_PAGE), matching: matching.length };
}

export function keysRoutes(services: Services): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const target = storeTarget(services.store);

  const page = (
    c: AdminContext,
    extra: {
      notice?: Notice;
      errors?: FieldErrors;
      keysInput?: string;
      view?: KeysView;
      /** The stamp a refused form came with, kept for it: its keys go to no other server. */
      shown?: string;
    } = {},
  ) => {
    const { doc } = services.store.snapshot;
    const index = findUpstream(doc, c.req.param("name") ?? "");
    const status = keyStatuses(doc, services.health.list(), services.log.redact)[index];
    const view = extra.view ?? viewOf(new URL(c.req.url).searchParams, doc);
    const { shown, matching } = inView(status.keys, view);
    const props: KeysPageProps = {
      chrome: chrome(c, extra.notice),
      shown: extra.shown ?? targetStamp(doc.upstream[index]),
      upstream: { name: status.name, serviceType: status.serviceType, current: status.current },
      keys: shown,
      total: status.keys.length,
      matching,
      counts: stateCounts(status.keys),
      view,
      perPage: KEYS_PER_PAGE,
      now: services.now(),
      errors: extra.errors,
      keysInput: extra.keysInput,
    };
    return KeysPage(props);
  };

  /** The list the form was sent from (its `view` field), checked as any address is. */
  const returnView = (form: FormData, doc: ConfigDocument) =>
    keysViewQuery(viewOf(new URLSearchParams(field(form, "view")), doc));

  const notFound = (c: AdminContext) =>
    redirectWith(c, "/admin/upstreams", {
      kind: "error",
      text: `There is no upstream “${c.req.param("name")}”.`,
    });

  app.get("/:name/keys", (c) => {
    const { doc } = services.store.snapshot;
    if (!upstreamInPath(c, doc)) return notFound(c);
    // A whole key typed to find it is found, but not kept in the address (the browser's history,
    // htmx's, a reverse proxy's log): the page goes on at the address with the key masked.
    const url = new URL(c.req.url);
    const q = url.searchParams.get("q");
    const masked = q === null ? q : maskKeysIn(q, doc);
    if (masked !== q) {
      url.searchParams.set("q", masked!);
      return c.redirect(url.pathname + url.search, 303);
    }
    return c.html(page(c));
  });

  // The filter's form: its state and key go to the list's address, a whole key masked.
  app.post("/:name/keys/filter", async (c) => {
    const { doc } = services.store.snapshot;
    const found = upstreamInPath(c, doc);
    if (!found) return notFound(c);
    const form = await readForm(c);
    const params = new URLSearchParams({ state: field(form, "state"), q: field(form, "q") });
    const query = keysViewQuery(viewOf(params, doc));
    return redirectWith(c, upstreamPath(found.doc.upstream[found.index].name, `/keys${query}`));
  });

  /** Keys pasted for an upstream gone meanwhile: given back, not lost. */
  const keysNotAdded = (c: AdminContext, upstream: string, text: string) =>
    rerender(c, 404, () => KeysNotAddedPage({ chrome: chrome(c), upstream, value: text }));

  app.post("/:name/keys", async (c) => {
    const found = upstreamInPath(c, services.store.snapshot.doc);
    if (!found) return keysNotAdded(c, c.req.param("name"), field(await readForm(c), "keys"));
    const name = found.doc.upstream[found.index].name;
    const form = await readForm(c);
    const text = field(form, "keys");
    try {
      const r = await addKeys(target, name, text, formShown(form));
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
      // Added again, they go where the upstream leads now.
      const message = status === 409
        ? `“${name}” now leads to another server (its kind or base URL changed since this page ` +
          "was loaded), so no key was added. Add them again to send them there."
        : errorText(err, status);
      const errors = { keys: [message] };
      const now = services.store.snapshot.doc.upstream.find((u) => u.name === name);
      if (!now) return keysNotAdded(c, name, text);
      // Refused for what was pasted, the form keeps the server it showed; a conflict takes the
      // one the name leads to now, as the message asks.
      const shown = status === 409 ? targetStamp(now) : formShown(form) ?? targetStamp(now);
      return rerender(c, status, () => page(c, { errors, keysInput: text, shown }), {
        id: "add-keys-form",
        render: () =>
          AddKeysForm({
            csrf: c.get("csrfToken"),
            upstream: name,
            shown,
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
    const form = await readForm(c);
    const n = await enableAllKeys(services.health, found.doc, name);
    return redirectWith(c, upstreamPath(name, `/keys${returnView(form, found.doc)}`), {
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
      const { doc } = services.store.snapshot;
      const keys = keyStatuses(
        doc,
        services.health.list(),
        services.log.redact,
      )[findUpstream(doc, name)].keys;
      const status = keys.find((k) => k.keyId === id);
      if (isHtmx(c) && status) {
        return c.html(KeyRowAnswer({
          upstream: name,
          status,
          now: services.now(),
          csrf: c.get("csrfToken"),
          test,
          view: keysViewQuery(viewOf(pageParams(c), doc)) || undefined,
          disabled: stateCounts(keys).disabled,
        }));
      }
      // A plain form goes back to the page it came from (a reload must not test again), the
      // result as a notice.
      const back = upstreamPath(name, `/keys${returnView(await readForm(c), doc)}`);
      if (test && status) {
        const said = `${test.status ? `${test.status} · ` : ""}${test.message}` +
          (test.ms > 0 ? ` (${test.ms} ms)` : "");
        return redirectWith(c, back, {
          kind: test.ok ? "ok" : "error",
          text: `Test of ${status.masked}: ${said}`,
        });
      }
      return redirectWith(c, back);
    });
  };

  rowAction("disable", (doc, name, id) => disableKey(services.health, doc, name, id));
  rowAction("enable", (doc, name, id) => enableKey(services.health, doc, name, id));
  rowAction("test", (doc, name, id) => {
    const u = doc.upstream[findUpstream(doc, name)];
    return testKey(services, u, u.apiKeys[findKey(u, id)]);
  });

  app.post("/:name/keys/:id/delete", async (c) => {
    const found = upstreamInPath(c, services.store.snapshot.doc);
    if (!found) return notFound(c);
    const name = found.doc.upstream[found.index].name;
    const form = await readForm(c);
    try {
      const r = await removeKey(target, name, c.req.param("id"));
      return redirectWith(c, upstreamPath(name, `/keys${returnView(form, found.doc)}`), {
        kind: "ok",
        text: `Key ${r.masked} deleted.`,
      });
    } catch (err) {
      const status = statusFor(err);
      if (status === null) throw err;
      const text = errorText(err, status);
      const view = viewOf(new URLSearchParams(field(form, "view")), found.doc);
      return rerender(c, status, () => page(c, { notice: { kind: "error", text }, view }));
    }
  });

  return app;
}
