// /admin/transfer (import: upload or paste, preview the diff, apply) and /admin/export (download).
import { Hono } from "hono";
import {
  exportConfig,
  importConfig,
  importNotes,
  InvalidConfigError,
  parseImport,
  previewImport,
  storeTarget,
} from "../../lib/admin_service.ts";
import type { Services } from "../../lib/services.ts";
import { seal, unseal } from "../../lib/store/session_store.ts";
import { TransferPage, type TransferPageProps } from "../../views/transfer_page.tsx";
import {
  type AdminContext,
  chrome,
  CONFLICT_TEXT,
  field,
  formVersion,
  readForm,
  redirectWith,
  rerender,
  statusFor,
} from "./respond.ts";
import { type AdminEnv, isHtmx } from "./session.ts";

const MAX_IMPORT_BYTES = 5 * 1024 * 1024;

export function transferRoutes(services: Services): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const target = storeTarget(services.store);

  const page = (c: AdminContext, extra: Partial<TransferPageProps> = {}) =>
    TransferPage({ chrome: chrome(c), version: services.store.snapshot.version, ...extra });

  app.get("/transfer", (c) => c.html(page(c)));

  app.get("/export", (c) => {
    const stamp = new Date(services.now()).toISOString().slice(0, 10);
    return c.body(exportConfig(services.store.snapshot.doc), 200, {
      "content-type": "application/json; charset=utf-8",
      "content-disposition": `attachment; filename="config-${stamp}.json"`,
      "cache-control": "no-store",
    });
  });

  app.post("/transfer/preview", async (c) => {
    const form = await readForm(c);
    const file = form.get("file");
    let text = field(form, "config").trim();
    if (file instanceof File && file.size > 0) {
      if (file.size > MAX_IMPORT_BYTES) {
        return rerender(c, 422, () => page(c, { errors: { config: ["the file is too large"] } }));
      }
      text = (await file.text()).trim();
    }
    if (!text) {
      return rerender(
        c,
        422,
        () => page(c, { errors: { config: ["choose a file or paste the configuration"] } }),
      );
    }
    try {
      const preview = previewImport(services.store.snapshot.doc, parseImport(text));
      const { doc, diff } = preview;
      const sealed = await seal(c.get("session"), JSON.stringify(doc));
      const notes = importNotes(preview);
      // The preview answers a post: an address to reload it at does not exist.
      if (isHtmx(c)) c.header("HX-Push-Url", "false");
      return c.html(page(c, { preview: { diff, sealed, upstreams: doc.upstream.length, notes } }));
    } catch (err) {
      if (!(err instanceof InvalidConfigError)) throw err;
      return rerender(c, 422, () => page(c, { errors: { config: err.problems }, input: text }));
    }
  });

  app.post("/transfer/apply", async (c) => {
    const form = await readForm(c);
    const text = await unseal(c.get("session"), field(form, "sealed"));
    if (text === null) {
      return rerender(
        c,
        400,
        () =>
          page(c, { formErrors: ["That preview has expired; upload the configuration again."] }),
      );
    }
    try {
      const { diff } = await importConfig(target, JSON.parse(text), formVersion(form));
      const summary = `${diff.added.length} added, ${diff.removed.length} removed, ` +
        `${diff.changed.length} changed`;
      return redirectWith(c, "/admin/upstreams", {
        kind: "ok",
        text: `Configuration imported: ${summary}.`,
      });
    } catch (err) {
      const status = statusFor(err);
      if (status === null) throw err;
      const formErrors = status === 409
        ? [CONFLICT_TEXT]
        : err instanceof InvalidConfigError
        ? err.problems
        : [(err as Error).message];
      // The checked document goes back in the paste box, to be previewed again against the news.
      const input = JSON.stringify(JSON.parse(text), null, 2);
      return rerender(c, status, () => page(c, { formErrors, input }));
    }
  });

  return app;
}
