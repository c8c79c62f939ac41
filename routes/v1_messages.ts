// POST /v1/messages and /v1/messages/count_tokens: read and validate the body once, hand off to
// lib/. The body is parsed whatever its content-type (curl -d sends a form type), and its text
// is kept for the passthrough.
import { Hono } from "hono";
import type { z } from "zod";
import type { MessagesRequest } from "../lib/anthropic.ts";
import type { AppEnv } from "../lib/app.ts";
import { countTokens } from "../lib/count_tokens.ts";
import { ProxyError } from "../lib/errors.ts";
import {
  contentBlockProblem,
  CountTokensRequestSchema,
  describeIssues,
  MessagesRequestSchema,
} from "../lib/messages_schema.ts";
import { handleMessages } from "../lib/proxy.ts";
import type { Services } from "../lib/services.ts";

async function readBody(
  req: Request,
  schema: z.ZodType,
): Promise<{ raw: string; body: MessagesRequest }> {
  const raw = await req.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ProxyError(400, "The request body is not valid JSON");
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ProxyError(400, "The request body must be a JSON object");
  }
  const result = schema.safeParse(parsed);
  if (!result.success) throw new ProxyError(400, describeIssues(result.error.issues));
  const blockProblem = contentBlockProblem(
    (parsed as { messages: Array<{ content: unknown }> }).messages,
  );
  if (blockProblem) throw new ProxyError(400, blockProblem);
  // Validation only: the parsed object itself goes on, so nothing is copied.
  return { raw, body: parsed as MessagesRequest };
}

export function messagesRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.post("/messages", async (c) => {
    const { raw, body } = await readBody(c.req.raw, MessagesRequestSchema);
    return await handleMessages(services, {
      body,
      raw,
      headers: c.req.raw.headers,
      requestId: c.get("requestId"),
      clientKey: c.get("clientKey"),
      signal: c.req.raw.signal,
    });
  });

  app.post("/messages/count_tokens", async (c) => {
    const { raw, body } = await readBody(c.req.raw, CountTokensRequestSchema);
    return c.json({
      input_tokens: await countTokens(services, body, raw, c.req.raw.headers, c.get("requestId")),
    });
  });

  return app;
}
