// The admin surface: sign-in, the pages (session + CSRF), the JSON API. Answers 403 with
// instructions until ADMIN_PASSWORD is set.
import { Hono } from "hono";
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { trimTrailingSlash } from "hono/trailing-slash";
import type { Services } from "../../lib/services.ts";
import { AdminDisabledPage } from "../../views/login_page.tsx";
import { MessagePage, NotFoundPage } from "../../views/message_page.tsx";
import { apiError, apiRoutes, MAX_ADMIN_BODY, TOO_LARGE } from "./api.ts";
import { dashboardRoutes } from "./dashboard.ts";
import { keysRoutes } from "./keys.ts";
import { loginRoutes, logoutRoutes } from "./login.ts";
import { logsRoutes } from "./logs.ts";
import { sameOriginOnly } from "./origin_check.ts";
import { chrome } from "./respond.ts";
import { type AdminEnv, requireCsrfToken, requireSession } from "./session.ts";
import { strategyRoutes } from "./strategy.ts";
import { transferRoutes } from "./transfer.ts";
import { upstreamRoutes } from "./upstreams.ts";

/**
 * The pages load only their own scripts and styles, and are never framed. The one inline style
 * allowed is the empty one (its hash): htmx's settle step copies an empty style attribute onto
 * swapped rows, which the browser otherwise reports in the console as a violation.
 */
const securityHeaders: MiddlewareHandler = async (c, next) => {
  await next();
  c.header(
    "Content-Security-Policy",
    "default-src 'self'; script-src 'self'; " +
      "style-src 'self' 'unsafe-hashes' 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='; " +
      "img-src 'self' data:; " +
      "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  );
  c.header("X-Content-Type-Options", "nosniff");
  c.header("Referrer-Policy", "same-origin");
};

export function adminRoutes(services: Services): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.use("*", securityHeaders);
  app.use("*", trimTrailingSlash({ alwaysRedirect: true }));

  if (!services.config.adminPassword) {
    app.all("/api/*", (c) =>
      apiError(
        c,
        403,
        "permission_error",
        "The admin API is disabled: set ADMIN_PASSWORD and restart to enable it.",
      ));
    app.all("*", (c) => c.html(AdminDisabledPage(), 403));
    return app;
  }

  const { sessions } = services;
  app.route("/api", apiRoutes(services, sessions));

  const pages = new Hono<AdminEnv>();
  pages.use("*", sameOriginOnly);
  pages.route("/", loginRoutes(services, sessions));
  pages.use("*", requireSession(sessions));
  // After the session (none without the password makes the server hold a body), before the CSRF
  // check reads the form.
  pages.use(
    "*",
    bodyLimit({
      maxSize: MAX_ADMIN_BODY,
      onError: (c) => c.html(MessagePage({ title: "Too large", message: TOO_LARGE }), 413),
    }),
  );
  pages.use("*", requireCsrfToken());
  pages.route("/", logoutRoutes(sessions));
  pages.route("/", dashboardRoutes(services));
  pages.route("/upstreams", upstreamRoutes(services));
  pages.route("/upstreams", keysRoutes(services));
  pages.route("/strategy", strategyRoutes(services));
  pages.route("/", transferRoutes(services));
  pages.route("/logs", logsRoutes(services));
  pages.all("*", (c) => c.html(NotFoundPage({ chrome: chrome(c), path: c.req.path }), 404));
  app.route("/", pages);
  return app;
}
