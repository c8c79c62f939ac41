// A streamed answer as the client and whatever sits in between (nginx, a CDN) receive it.
import assert from "node:assert/strict";
import { anthropicMessage, startFakeAnthropic } from "../fakes/anthropic_upstream.ts";
import { chunk, sseReply, startFakeGemini, textPart } from "../fakes/gemini_upstream.ts";
import {
  OPENAI_DONE,
  openaiChunk,
  openaiCompletion,
  openaiUsage,
  openaiUsageChunk,
  startFakeOpenAI,
} from "../fakes/openai_upstream.ts";
import { scriptedServer, write } from "../helpers/scripted_server.ts";
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

Deno.test("a short answer that arrived whole goes out as one body; one still arriving streams", async () => {
  const eventsOf = (pieces: string[]) => [
    openaiChunk({ role: "assistant", content: "" }),
    ...pieces.map((content) => openaiChunk({ content })),
    openaiChunk({}, "stop"),
    openaiUsageChunk(openaiUsage(7, 3)),
    OPENAI_DONE,
  ];
  const short = ["Short ", "and ", "whole."];
  // Over 16 KB: more than one read of the upstream's socket would take before.
  const long = Array.from({ length: 40 }, (_, i) => `${"word ".repeat(50)}${i} `);
  const events = eventsOf(short);
  const upstream = scriptedServer(async (conn, request) => {
    const body = eventsOf(request.includes("long") ? long : short).join("");
    const head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n";
    if (!request.includes("drip")) {
      await conn.write(new TextEncoder().encode(
        `${head}content-length: ${new TextEncoder().encode(body).length}\r\n\r\n${body}`,
      ));
      return "keep";
    }
    // The first event, then the rest a while later: the client must not wait for it.
    const chunked = (text: string) =>
      `${new TextEncoder().encode(text).length.toString(16)}\r\n${text}\r\n`;
    await write(conn, `${head}transfer-encoding: chunked\r\n\r\n`, chunked(events[0] + events[1]));
    await new Promise((r) => setTimeout(r, 150));
    await write(conn, chunked(events.slice(2).join("")), "0\r\n\r\n");
    return "keep";
  });
  const server = await startTestServer({
    config: {
      upstream: [{
        name: "up",
        baseUrl: upstream.url,
        serviceType: "openai",
        apiKeys: ["sk-whole-answer-000000001"],
        models: { default: "m-1" },
      }],
    },
  });
  const ask = (content: string) =>
    fetch(`${server.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
      body: JSON.stringify({
        model: "claude-sonnet-4-5",
        max_tokens: 64,
        stream: true,
        messages: [{ role: "user", content }],
      }),
    });
  try {
    for (const [asked, pieces] of [["whole", short], ["long", long], ["whole", short]]) {
      const res = await ask(asked as string);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
      const text = await res.text();
      assert.equal(
        res.headers.get("content-length"),
        String(new TextEncoder().encode(text).length),
      );
      const { blocks, stopReason } = assertWellFormedStream(parseSse(text));
      assert.deepEqual(blocks, [{ type: "text", text: (pieces as string[]).join("") }]);
      assert.equal(stopReason, "end_turn");
      assert.match(text, /"output_tokens":3/);
    }
    // The rest of the answer was read, so its connection served the next request.
    assert.equal(upstream.connections, 1);

    const started = performance.now();
    const res = await ask("drip");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-length"), null);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const first = await reader.read();
    assert.ok(performance.now() - started < 140, "the first event came before the rest");
    assert.match(first.value ?? "", /message_start/);
    let text = first.value ?? "";
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += r.value;
    const { blocks } = assertWellFormedStream(parseSse(text));
    assert.deepEqual(blocks, [{ type: "text", text: "Short and whole." }]);
  } finally {
    await server.close();
    await upstream.close();
  }
});
