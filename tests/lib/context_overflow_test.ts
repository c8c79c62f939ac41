import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import { proxyTo } from "../helpers/proxy_to.ts";

Deno.test("context overflow: Claude Code gets Anthropic's words through the proxy, a 400 tried once", async () => {
  let calls = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    calls++;
    await req.body?.cancel();
    return Response.json({
      error: {
        message:
          "This model's maximum context length is 128000 tokens. However, your messages resulted in 130512 tokens. Please reduce the length of the messages.",
        type: "invalid_request_error",
        param: "messages",
        code: "context_length_exceeded",
      },
    }, { status: 400 });
  });
  await using t = await proxyTo({
    url: `http://127.0.0.1:${server.addr.port}/v1`,
    close: () => server.shutdown(),
  }, { name: "oai", serviceType: "openai", apiKeys: ["sk-one-aaaa-1111", "sk-two-bbbb-2222"] });
  await assert.rejects(
    t.client.messages.create({
      model: "claude-sonnet-4-5",
      max_tokens: 10,
      messages: [{ role: "user", content: "a very long conversation" }],
    }),
    (err: unknown) => {
      assert.ok(err instanceof Anthropic.BadRequestError);
      assert.equal(
        (err.error as { error?: { type?: string } })?.error?.type,
        "invalid_request_error",
      );
      assert.match(err.message, /prompt is too long: 130512 tokens > 128000 maximum/);
      return true;
    },
  );
  assert.equal(calls, 1);
});
