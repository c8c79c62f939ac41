// /admin/logs: the request log (list, live fragment, detail) and the usage CSV. Mounted by the
// admin routes behind their session guard; no authentication here.
import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import { z } from "zod";
import { usageCsv } from "../../lib/observability/usage_report.ts";
import type { Services } from "../../lib/services.ts";
import type { RequestLogFilter, RequestLogPage } from "../../lib/store/request_log_store.ts";
import { BUCKET_MS, bucketStart, RETENTION_MS } from "../../lib/store/usage_store.ts";
import {
  filterQuery,
  LogDetailPage,
  LogNotFoundPage,
  LogRows,
  LOGS_BASE,
  LogsPage,
} from "../../views/logs.tsx";
import { chrome } from "./respond.ts";
import type { AdminEnv } from "./session.ts";

const PAGE_SIZE = 50;

// Query strings come from links and hand-edited URLs: anything odd falls back to a default.
const text = (max: number) =>
  z.string().trim().transform((v) => v.slice(0, max) || undefined).optional().catch(undefined);

const ListQuery = z.object({
  status: z.string().trim().toLowerCase().regex(/^([1-5]xx|\d{3})$/).optional().catch(undefined),
  upstream: text(200),
  model: text(200),
  errors: z.string().optional().transform((v) => v === "1" || v === "on" || v === "true")
    .catch(false),
  cursor: text(500),
  live: z.string().optional().transform((v) => v !== "0").catch(true),
});

const CsvQuery = z.object({
  bucket: z.enum(["hour", "day"]).catch("hour"),
  days: z.coerce.number().int().min(1).optional().catch(undefined),
});

// The list's filter rides along, so "Back to the log" returns to the same view.
const DetailQuery = ListQuery.pick({ status: true, upstream: true, model: true, errors: true })
  .extend({ b: z.coerce.number().int().min(0).optional().catch(undefined) });

export function logsRoutes(services: Services): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const obs = services.observability;

  const read = async (q: z.infer<typeof ListQuery>) => {
    const filter: RequestLogFilter = {
      status: q.status,
      upstream: q.upstream,
      model: q.model,
      errorsOnly: q.errors,
    };
    // Show what this instance has just served, not what is still queued.
    await obs.flush();
    let page: RequestLogPage;
    try {
      page = await obs.requestLog.list(filter, { limit: PAGE_SIZE, cursor: q.cursor });
    } catch {
      page = await obs.requestLog.list(filter, { limit: PAGE_SIZE }); // a stale or forged cursor
    }
    return { filter, cursor: q.cursor, page };
  };

  app.get("/", zValidator("query", ListQuery), async (c) => {
    const q = c.req.valid("query");
    const { filter, cursor, page } = await read(q);
    const live = !cursor && q.live;
    const upstreams = services.store.snapshot.doc.upstream.map((u) => u.name);
    return c.html(LogsPage({
      chrome: chrome(c),
      filter,
      page,
      cursor,
      live,
      upstreams,
      max: services.config.requestLogMax,
      ttlHours: services.config.requestLogTtlHours,
    }));
  });

  app.get("/rows", zValidator("query", ListQuery), async (c) => {
    const q = c.req.valid("query");
    const { filter, page } = await read(q);
    // A filter change (not a poll) goes in the address, so a reload or Back keeps it.
    if (c.req.header("hx-trigger") === "log-filters") {
      c.header("HX-Push-Url", `${LOGS_BASE}${filterQuery(filter)}`);
    }
    return c.html(LogRows({ filter, page, live: q.live }));
  });

  app.get("/usage.csv", zValidator("query", CsvQuery), async (c) => {
    const { bucket, days: asked } = c.req.valid("query");
    const maxDays = (bucket === "day" ? RETENTION_MS.day : RETENTION_MS.hour) / BUCKET_MS.day;
    const days = Math.min(maxDays, asked ?? (bucket === "day" ? 90 : 7));
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

  app.get("/:id", zValidator("query", DetailQuery), async (c) => {
    const id = c.req.param("id");
    await obs.flush();
    const q = c.req.valid("query");
    const entry = /^[\w-]{1,100}$/.test(id) ? await obs.requestLog.get(id, q.b) : null;
    const back = `${LOGS_BASE}${
      filterQuery({
        status: q.status,
        upstream: q.upstream,
        model: q.model,
        errorsOnly: q.errors,
      })
    }`;
    if (!entry) return c.html(LogNotFoundPage({ chrome: chrome(c), id, back }), 404);
    return c.html(LogDetailPage({ chrome: chrome(c), entry, back }));
  });

  return app;
}
