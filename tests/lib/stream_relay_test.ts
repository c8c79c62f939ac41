// A streamed answer as the client and whatever sits in between (nginx, a CDN) receive it.
import assert from "node:assert/strict";
import { anthropicMessage, startFakeAnthropic } from "../fakes/anthropic_upstream.ts";
import { chunk, sseReply, startFakeGemini, textPart } from "../fakes/gemini_upstream.ts";
import { openaiCompletion, openaiUsage, startFakeOpenAI } from "../fakes/openai_upstream.ts";
import { ACCESS_KEY, startTestServer } from "../helpers/server.ts";
import { assertWellFormedStream, parseSse } from "../helpers/sse.ts";

type Kind = "anthropic" | "openai" | "custom" | "gemini";

/** A whole (non-streamed) answer the upstream may send to a stream request, in its own format. */
function wholeAnswer(kind: Kind) {
  if (kind === "anthropic") return { status: 200, json: anthropicMessage("whole at once") };
  if (kind === "gemini") {
    // Gemini has no JSON answer to a stream request: its events arrive as one body.
    return sseReply([chunk([textPart("whole at once")], { finishReason: "STOP" })]);
  }
  return {
    status: 200,
    json: openaiCompletion({ content: "whole at once" }, "stop", openaiUsage(5, 3)),
  };
}

Deno.test("a streamed answer tells proxies in between to pass its events on unbuffered, on every upstream kind", async () => {
  for (const kind of ["anthropic", "openai", "custom", "gemini"] as const) {
    const fake = kind === "anthropic"
      ? await startFakeAnthropic()
      : kind === "gemini"
      ? await startFakeGemini()
      : await startFakeOpenAI();
    const server = await startTestServer({
      config: {
        upstream: [{
          name: "up",
          baseUrl: fake.url,
          serviceType: kind,
          apiKeys: ["sk-unbuffered-key-000000001"],
          models: { default: kind === "gemini" ? "gemini-2.5-flash" : "m-1" },
        }],
      },
    });
    try {
      // The upstream's own stream, then a whole answer replayed as events.
      (fake.enqueue as (r: unknown) => void)(wholeAnswer(kind));
      for (const which of ["replayed", "streamed"]) {
        const res = await fetch(`${server.url}/v1/messages?beta=true`, {
          method: "POST",
          headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
          body: JSON.stringify({
            model: "claude-sonnet-4-5",
            max_tokens: 64,
            stream: true,
            messages: [{ role: "user", content: "hi" }],
          }),
        });
        const said = `${kind}, ${which}`;
        assert.equal(res.status, 200, said);
        assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/, said);
        // nginx holds a response back until it ends unless told not to: Claude Code then sees
        // nothing for minutes, and a reverse proxy's idle timeout cuts the stream.
        assert.equal(res.headers.get("x-accel-buffering"), "no", said);
        assert.equal(res.headers.get("cache-control"), "no-cache", said);
        assertWellFormedStream(parseSse(await res.text()));
      }
    } finally {
      await server.close();
      await fake.close();
    }
  }
});
