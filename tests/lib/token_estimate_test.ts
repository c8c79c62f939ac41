import assert from "node:assert/strict";
import type { MessagesRequest } from "../../lib/anthropic.ts";
import { parseBody, sharedTools } from "../../lib/parse_body.ts";
import { clientToolSpec } from "../../lib/providers/client_tool_schemas.ts";
import { estimateTokens, firstInputEstimate } from "../../lib/token_estimate.ts";
import { carrySignature } from "../../lib/providers/openai_reasoning_carry.ts";

const IMAGE = {
  type: "image",
  source: { type: "base64", media_type: "image/png", data: "A".repeat(400_000) },
};

function first(messages: unknown[]): number {
  const body = { model: "m", max_tokens: 10, messages } as MessagesRequest;
  return firstInputEstimate(body, JSON.stringify(body));
}

Deno.test("first input estimate: text goes by the body's length", () => {
  const text = "word ".repeat(2000);
  assert.equal(
    first([{ role: "user", content: text }]),
    Math.ceil(
      JSON.stringify({
        model: "m",
        max_tokens: 10,
        messages: [{ role: "user", content: text }],
      }).length / 4,
    ),
  );
});

Deno.test("first input estimate: an image counts as an image, not as its base64 text", () => {
  for (
    const messages of [
      [{ role: "user", content: [IMAGE, { type: "text", text: "what is this?" }] }],
      [{
        role: "user",
        content: [{ type: "tool_result", tool_use_id: "t", content: [IMAGE] }],
      }],
      [{ role: "user", content: [{ ...IMAGE, type: "document" }] }],
    ]
  ) {
    const n = first(messages);
    assert.ok(n >= 1600 && n < 5000, `${n} tokens`);
    assert.equal(n, estimateTokens({ messages } as MessagesRequest));
  }
});

Deno.test("estimate: a client tool counts as the schema sent for it, also among tools parsed once", () => {
  const custom = Array.from({ length: 30 }, (_, i) => ({
    name: `tool_${i}`,
    description: "A tool of the client's own, described at some length.",
    input_schema: { type: "object", properties: { path: { type: "string" } } },
  }));
  const editor = { type: "text_editor_20250728", name: "str_replace_based_edit_tool" };
  const spec = JSON.stringify(clientToolSpec(editor)).length / 4;
  const bodyOf = (tools: unknown[]) =>
    JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }], tools });
  const without = estimateTokens(JSON.parse(bodyOf(custom)));
  const raw = bodyOf([...custom, editor]);
  parseBody(raw);
  const shared = parseBody(raw) as MessagesRequest;
  assert.ok(sharedTools(shared.tools));
  for (const body of [JSON.parse(raw), shared, shared]) {
    const added = estimateTokens(body) - without;
    assert.ok(added >= spec * 0.95 && added <= spec * 1.05, `${added} for ${spec}`);
  }
});

Deno.test("estimate: a web search result counts as the note translated upstreams get, not its encrypted content", () => {
  const result = {
    type: "web_search_tool_result",
    tool_use_id: "srvtoolu_01",
    content: [{
      type: "web_search_result",
      title: "Euro 2024",
      url: "https://example.com/euro",
      encrypted_content: "E".repeat(2_000),
      page_age: null,
    }],
  };
  const body = (content: unknown[]) =>
    ({
      model: "m",
      max_tokens: 10,
      messages: [{ role: "user", content: "q" }, { role: "assistant", content }],
    }) as MessagesRequest;
  const added = estimateTokens(body([result])) - estimateTokens(body([]));
  assert.ok(added > 5 && added < 40, `a search result added ${added} tokens`);
});

Deno.test("estimate: a document counts by its text, and a PDF by its pages, not as one flat image", () => {
  const text = "word ".repeat(80_000); // 400,000 characters
  const asBlock = estimateTokens(
    { messages: [{ role: "user", content: text }] } as MessagesRequest,
  );
  const docs = [
    { type: "document", source: { type: "text", media_type: "text/plain", data: text } },
    { type: "document", source: { type: "content", content: [{ type: "text", text }] } },
    { type: "document", source: { type: "content", content: text } },
    {
      type: "document",
      source: { type: "base64", media_type: "text/plain", data: btoa(text) },
    },
  ];
  for (const doc of docs) {
    const n = estimateTokens({ messages: [{ role: "user", content: [doc] }] } as MessagesRequest);
    assert.ok(Math.abs(n - asBlock) < 50, `${doc.source.type}: ${n} against ${asBlock}`);
  }
  const pdf = (pages: number) => {
    const objects = Array.from(
      { length: pages },
      (_, i) => `${i + 3} 0 obj\n<< /Type /Page /Parent 2 0 R >>\nendobj\n`,
    );
    const body = `%PDF-1.4\n2 0 obj\n<< /Type /Pages /Count ${pages} >>\nendobj\n${
      objects.join("")
    }${"%".repeat(20_000)}\n%%EOF`;
    return estimateTokens({
      messages: [{
        role: "user",
        content: [{
          type: "document",
          source: { type: "base64", media_type: "application/pdf", data: btoa(body) },
        }],
      }],
    } as MessagesRequest);
  };
  const one = pdf(1);
  const thirty = pdf(30);
  assert.ok(one >= 1500 && one <= 3000, `one page: ${one}`);
  assert.ok(thirty >= 30 * 1500 && thirty <= 30 * 3000, `thirty pages: ${thirty}`);
  // Pages compressed out of sight: the page tree's count.
  const compressed = btoa(`%PDF-1.7\n<< /Type /Pages /Kids [] /Count 12 >>\n${"x".repeat(5000)}`);
  const counted = estimateTokens({
    messages: [{
      role: "user",
      content: [{
        type: "document",
        source: { type: "base64", media_type: "application/pdf", data: compressed },
      }],
    }],
  } as MessagesRequest);
  assert.ok(counted >= 12 * 1500 && counted <= 12 * 3000, `counted: ${counted}`);
});

Deno.test("estimate: thinking the client does not see counts as the reasoning its signature carries upstream", () => {
  const reasoning = "Step by step, the files are listed first. ".repeat(500);
  const body = (content: unknown[]) =>
    ({
      model: "m",
      max_tokens: 10,
      messages: [{ role: "user", content: "q" }, { role: "assistant", content }],
    }) as MessagesRequest;
  const shown = estimateTokens(
    body([{ type: "thinking", thinking: reasoning, signature: "gateway-openai-reasoning" }]),
  );
  const omitted = estimateTokens(
    body([{ type: "thinking", thinking: "", signature: carrySignature({ text: reasoning }) }]),
  );
  // Within the carry's JSON wrapping of the same text.
  assert.ok(Math.abs(omitted - shown) < shown * 0.05, `${omitted} vs ${shown}`);
  // A real Anthropic signature (encrypted, not the proxy's) is no text sent anywhere.
  const foreign = estimateTokens(
    body([{ type: "thinking", thinking: "", signature: "E".repeat(20_000) }]),
  );
  assert.ok(foreign < 20, `${foreign}`);
});
