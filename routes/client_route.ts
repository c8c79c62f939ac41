// A client route declares its path and its one method once: the route answers that method, and
// any other method on the path is told which one it takes (405), from the same declaration.
import type { Handler, Hono } from "hono";
import type { AppEnv } from "../lib/app.ts";
import { ProxyError } from "../lib/errors.ts";

export function clientRoute<P extends string>(
  app: Hono<AppEnv>,
  method: "GET" | "POST",
  path: P,
  handler: Handler<AppEnv, P>,
): void {
  app.on(method, path, handler);
  // HEAD goes with GET: Hono answers it from the GET route.
  const allow = method === "GET" ? "GET, HEAD" : method;
  app.all(path, (c) => {
    throw new ProxyError(
      405,
      `${c.req.path} takes ${method}, not ${c.req.method}`,
      "invalid_request_error",
      { allow },
    );
  });
}
