// Drives the Gemini provider as the pipeline does (build a request, translate an answer) and reads
// what a client would get back, for the tests of the Gemini provider's modules.
import assert from "node:assert/strict";
import { upstreamJson } from "./upstream_body.ts";
import type { MessagesRequest } from "../../lib/anthropic.ts";
import { geminiProvider } from "../../lib/providers/gemini.ts";
import { AnthropicStreamWriter } from "../../lib/providers/stream_writer.ts";
import type { CallContext, StreamTranslator } from "../../lib/providers/types.ts";
import { createSseDecoder } from "../../lib/sse.ts";

// deno-lint-ignore no-explicit-any
export type Any = any;

const CC = new URL("../../../shared/fixtures/claude-code/", import.meta.url);
const FIX = new URL("../fixtures/gemini/", import.meta.url);
export const SIGS = JSON.parse(Deno.readTextFileSync(new URL("signatures.json", FIX))).signatures;

export function claudeCode(name: string): MessagesRequest {
  return JSON.parse(Deno.readTextFileSync(new URL(name, CC)));
}

export function fixture(name: string): string {
  return Deno.readTextFileSync(new URL(name, FIX));
}

export function ctx(over: Partial<CallContext> = {}): CallContext {
  return {
    upstream: { name: "gemini", baseUrl: "", serviceType: "gemini", apiKeys: ["key-a"] },
    model: "gemini-2.5-flash",
    requestedModel: "claude-sonnet-4-5",
    apiKey: "key-a",
    stream: true,
    clientHeaders: new Headers(),
    ...over,
  };
}

export function build(body: Partial<MessagesRequest>, c = ctx()): Any {
  const full = { model: "claude-sonnet-4-5", max_tokens: 1024, messages: [], ...body };
  return upstreamJson(geminiProvider.buildRequest(full as MessagesRequest, c, ""));
}

interface Ev {
  event: string;
  data: Any;
}

export function parseFrames(text: string): Ev[] {
  return text.split("\n\n").filter((f) => f.trim()).map((frame) => {
    const lines = frame.split("\n");
    const event = lines.find((l) => l.startsWith("event: "))!.slice(7);
    const data = JSON.parse(lines.find((l) => l.startsWith("data: "))!.slice(6));
    assert.equal(data.type, event, "every frame names its type twice");
    return { event, data };
  });
}

/** The decoder as the stream relay wires it to a translator. */
function decoderFor(translator: StreamTranslator) {
  return createSseDecoder((ev) => translator.push(ev), translator.pushJson?.bind(translator));
}

export function streamTo(writer: AnthropicStreamWriter, sse: string | string[], c = ctx()): Ev[] {
  const translator = geminiProvider.createStreamTranslator(c, writer);
  const decoder = decoderFor(translator);
  for (const piece of typeof sse === "string" ? [sse] : sse) {
    decoder.feed(new TextEncoder().encode(piece));
  }
  decoder.flush();
  translator.end();
  return parseFrames(writer.take());
}

export function stream(sse: string | string[], c = ctx()): Ev[] {
  return streamTo(
    new AnthropicStreamWriter({ id: "msg_t", model: c.requestedModel, inputTokens: 0 }),
    sse,
    c,
  );
}

/** The sequence in a compact, exact form. */
export function summary(events: Ev[]): string[] {
  return events.map(({ event, data }) => {
    switch (event) {
      case "content_block_start": {
        const b = data.content_block;
        return `start ${data.index} ${b.type}${b.type === "tool_use" ? ` ${b.name}` : ""}`;
      }
      case "content_block_delta": {
        const d = data.delta;
        if (d.type === "signature_delta") return `signature ${data.index}`;
        const v = d.text ?? d.thinking ?? d.partial_json;
        return `${d.type} ${data.index} ${v}`;
      }
      case "content_block_stop":
        return `stop ${data.index}`;
      case "message_delta":
        return `message_delta ${data.delta.stop_reason}`;
      case "error":
        return `error ${data.error.type}: ${data.error.message}`;
      default:
        return event;
    }
  });
}

/** The content blocks a client assembles from the events (and sends back next turn). */
export function clientBlocks(events: Ev[]): Any[] {
  const blocks: Any[] = [];
  const json: string[] = [];
  for (const { event, data } of events) {
    const i = data.index;
    if (event === "content_block_start") {
      blocks[i] = structuredClone(data.content_block);
      json[i] = "";
    } else if (event === "content_block_delta") {
      const d = data.delta;
      if (d.type === "text_delta") blocks[i].text += d.text;
      if (d.type === "thinking_delta") blocks[i].thinking += d.thinking;
      if (d.type === "signature_delta") blocks[i].signature = d.signature;
      if (d.type === "input_json_delta") json[i] += d.partial_json;
    } else if (event === "content_block_stop" && blocks[i].type === "tool_use") {
      blocks[i].input = JSON.parse(json[i]);
    }
  }
  return blocks;
}

/** Structural rules Gemini enforces on contents, asserted one by one. */
export function assertConversation(body: Any): void {
  const contents = body.contents;
  assert.ok(contents.length > 0);
  assert.equal(contents[0].role, "user", "the first content is the user's");
  contents.forEach((c: Any, i: number) => {
    assert.ok(c.role === "user" || c.role === "model", `role ${c.role}`);
    if (i > 0) assert.notEqual(c.role, contents[i - 1].role, `alternation broken at ${i}`);
    assert.ok(c.parts.length > 0, `empty parts at ${i}`);
    for (const p of c.parts) {
      if ("text" in p) assert.ok(p.text.trim().length > 0, `empty text at ${i}`);
    }
    const calls = c.parts.filter((p: Any) => p.functionCall);
    if (c.role === "model" && calls.length) {
      const next = contents[i + 1];
      const responses = next.parts.filter((p: Any) => p.functionResponse);
      assert.equal(responses.length, calls.length, `responses for the calls at ${i}`);
      assert.deepEqual(
        responses.map((p: Any) => p.functionResponse.name),
        calls.map((p: Any) => p.functionCall.name),
      );
      // Results come first in their content.
      assert.ok(next.parts.slice(0, responses.length).every((p: Any) => p.functionResponse));
    }
  });
}

export const WEB_SEARCH_TOOL = { type: "web_search_20250305", name: "web_search", max_uses: 8 };

/** Gemini's grounding, as it comes on the last candidate of a googleSearch answer. */
export const GROUNDING = {
  searchEntryPoint: { renderedContent: "<style>.container{}</style><div>…</div>" },
  groundingChunks: [
    {
      web: {
        uri: "https://vertexaisearch.cloud.google.com/grounding-api-redirect/AbC1",
        title: "uefa.com",
      },
    },
    {
      web: {
        uri: "https://vertexaisearch.cloud.google.com/grounding-api-redirect/DeF2",
        title: "bbc.co.uk",
      },
    },
  ],
  groundingSupports: [{
    segment: { startIndex: 0, endIndex: 34, text: "Spain won Euro 2024 against England." },
    groundingChunkIndices: [0, 1],
    confidenceScores: [0.97, 0.91],
  }],
  webSearchQueries: ["who won euro 2024"],
};
