// /admin/logs: the request log (list, live fragment, detail) and the usage CSV. Mounted by the
// admin routes behind their session guard; no authentication here.
import { type Context, Hono } from "hono";
import type { AppEnv } from "../../lib/app.ts";
import { usageCsv } from "../../lib/observability/usage_report.ts";
import type { Services } from "../../lib/services.ts";
import type { RequestLogFilter, RequestLogPage } from "../../lib/store/request_log_store.ts";
import { BUCKET_MS, bucketStart, RETENTION_MS } from "../../lib/store/usage_store.ts";
import type { Chrome } from "../../views/layout.tsx";
import { LogDetailPage, LogNotFoundPage, LogRows, LogsPage } from "../../views/logs.tsx";

/** What the admin layout needs (the session's CSRF token), from the admin's own middleware. */
export type ChromeFor = (c: Context<AppEnv>) => Chrome | Promise<Chrome>;

const defaultChrome: ChromeFor = (c) => {
  const vars = c.var as Record<string, unknown>;
  const session = vars.session as { csrf?: string } | undefined;
  const csrf = session?.csrf ?? (typeof vars.csrf === "string" ? vars.csrf : "");
  return { csrf };
};

const PAGE_SIZE = 50;

export function logsRoutes(services: Services, chromeFor: ChromeFor = defaultChrome): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const obs = services.observability;

  const read = async (c: Context<AppEnv>) => {
    const filter = filterFrom(c);
    const cursor = clip(c.req.query("cursor"), 500);
    // Show what this instance has just served, not what is still queued.
    await obs.flush();
    let page: RequestLogPage;
    try {
      page = await obs.requestLog.list(filter, { limit: PAGE_SIZE, cursor });
    } catch {
      page = await obs.requestLog.list(filter, { limit: PAGE_SIZE }); // a stale or forged cursor
    }
    return { filter, cursor, page };
  };

  app.get("/", async (c) => {
    const { filter, cursor, page } = await read(c);
    const live = !cursor && c.req.query("live") !== "0";
    const upstreams = services.store.snapshot.doc.upstream.map((u) => u.name);
    return c.html(LogsPage({
      chrome: await chromeFor(c),
      filter,
      page,
      cursor,
      live,
      upstreams,
      max: services.config.requestLogMax,
      ttlHours: services.config.requestLogTtlHours,
    }));
  });

  app.get("/rows", async (c) => {
    const { filter, page } = await read(c);
    return c.html(LogRows({ filter, page, live: c.req.query("live") !== "0" }));
  });

  app.get("/usage.csv", async (c) => {
    const bucket = c.req.query("bucket") === "day" ? "day" : "hour";
    const maxDays = (bucket === "day" ? RETENTION_MS.day : RETENTION_MS.hour) / BUCKET_MS.day;
    const asked = Number(c.req.query("days") ?? (bucket === "day" ? 90 : 7));
    const days = Number.isFinite(asked) ? Math.min(maxDays, Math.max(1, Math.floor(asked))) : 7;
    await obs.flushUsage();
    const to = bucketStart(bucket, services.now()) + BUCKET_MS[bucket];
    const from = to - days * BUCKET_MS.day;
    const csv = await usageCsv(obs.usage, bucket, from, to);
    const day = new Date(services.now()).toISOString().slice(0, 10);
    return c.body(csv, 200, {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="usage-${bucket}-${day}.csv"`,
      "cache-control": "no-store",
    });
  });

  app.get("/:id", async (c) => {
    const id = c.req.param("id");
    await obs.flush();
    const hint = c.req.query("b");
    const entry = /^[\w-]{1,100}$/.test(id)
      ? await obs.requestLog.get(id, hint && /^\d+$/.test(hint) ? Number(hint) : undefined)
      : null;
    const chrome = await chromeFor(c);
    if (!entry) return c.html(LogNotFoundPage({ chrome, id }), 404);
    return c.html(LogDetailPage({ chrome, entry }));
  });

  return app;
}

function clip(value: string | undefined, max: number): string | undefined {
  const v = value?.trim();
  return v ? v.slice(0, max) : undefined;
}

function filterFrom(c: Context<AppEnv>): RequestLogFilter {
  const status = clip(c.req.query("status"), 3)?.toLowerCase();
  const errors = c.req.query("errors");
  return {
    status: status && /^([1-5]xx|\d{3})$/.test(status) ? status : undefined,
    upstream: clip(c.req.query("upstream"), 200),
    model: clip(c.req.query("model"), 200),
    errorsOnly: errors === "1" || errors === "on" || errors === "true",
  };
}
