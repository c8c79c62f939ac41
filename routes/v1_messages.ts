// POST /v1/messages and /v1/messages/count_tokens: parse and validate once, hand off to lib/.
import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import type { MessagesRequest } from "../lib/anthropic.ts";
import type { AppEnv } from "../lib/app.ts";
import { countTokens } from "../lib/count_tokens.ts";
import { ProxyError } from "../lib/errors.ts";
import {
  CountTokensRequestSchema,
  describeIssues,
  MessagesRequestSchema,
} from "../lib/messages_schema.ts";
import { handleMessages } from "../lib/proxy.ts";
import type { Services } from "../lib/services.ts";

const invalid = (result: { success: boolean; error?: { issues: unknown } }) => {
  if (!result.success) {
    const issues = (result.error as { issues: Parameters<typeof describeIssues>[0] }).issues;
    throw new ProxyError(400, describeIssues(issues));
  }
};

export function messagesRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.post("/messages", zValidator("json", MessagesRequestSchema, invalid), async (c) => {
    const raw = await c.req.text();
    const body = c.req.valid("json") as unknown as MessagesRequest;
    return await handleMessages(services, {
      body,
      raw,
      headers: c.req.raw.headers,
      requestId: c.get("requestId"),
      clientKey: c.get("clientKey"),
      signal: c.req.raw.signal,
    });
  });

  app.post(
    "/messages/count_tokens",
    zValidator("json", CountTokensRequestSchema, invalid),
    async (c) => {
      const raw = await c.req.text();
      const body = c.req.valid("json") as unknown as MessagesRequest;
      const inputTokens = await countTokens(services, body, raw, c.req.raw.headers);
      return c.json({ input_tokens: inputTokens });
    },
  );

  return app;
}
