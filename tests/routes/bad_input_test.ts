// Odd but JSON-valid requests get an answer (a 400, or a translation that copes), never a 500,
// a crash or a hang, whatever the upstream kind.
import assert from "node:assert/strict";
import { startFakeAnthropic } from "../fakes/anthropic_upstream.ts";
import { startFakeGemini } from "../fakes/gemini_upstream.ts";
import { startFakeOpenAI } from "../fakes/openai_upstream.ts";
import { parsePrometheus, sampleSum } from "../helpers/prometheus.ts";
import { ACCESS_KEY, startTestServer } from "../helpers/server.ts";

const ODD_MESSAGES: unknown[] = [
  [{ role: "user", content: [{ type: "text" }] }],
  [{ role: "user", content: [{ type: "text", text: 42 }] }],
  [{ role: "user", content: [{ type: "image" }] }],
  [{ role: "user", content: [{ type: "image", source: null }] }],
  [{ role: "user", content: [{ type: "image", source: { type: "base64" } }] }],
  [{ role: "user", content: [{ type: "document", source: {} }] }],
  [{ role: "user", content: [{ type: "tool_result" }] }],
  [{
    role: "user",
    content: [{ type: "tool_result", tool_use_id: "x", content: [{ type: "image" }] }],
  }],
  [{ role: "user", content: [{ type: "tool_result", tool_use_id: "x", content: 5 }] }],
  [{ role: "assistant", content: [{ type: "tool_use" }] }, { role: "user", content: "next" }],
  [{ role: "assistant", content: [{ type: "tool_use", id: "t1", name: "x", input: "str" }] }],
  [{ role: "assistant", content: [{ type: "thinking" }] }, { role: "user", content: "hi" }],
  [{ role: "user", content: [{ type: "mystery_block", data: 1 }] }],
  [{ role: "user", content: [] }],
  [{ role: "user", content: "" }],
  [],
  [{ role: "system", content: [{ type: "text", text: "only system" }] }],
];

const ODD_FIELDS: Record<string, unknown>[] = [
  { system: [{ type: "text" }] },
  { tools: [{ name: "t" }] },
  { tools: [{ name: "t", input_schema: null }] },
  { tools: [{ name: "t", input_schema: { type: "object", properties: { a: null } } }] },
  {
    tools: [{
      name: "t",
      input_schema: { $ref: "#/$defs/loop", $defs: { loop: { $ref: "#/$defs/loop" } } },
    }],
  },
  { tool_choice: { type: "tool" } },
  { thinking: { type: "enabled" } },
  { thinking: { type: "enabled", budget_tokens: "lots" } },
  { stop_sequences: [] },
  { metadata: { user_id: 7 } },
  { output_config: { format: { type: "json_schema" } } },
  { max_tokens: 0 },
];

async function withUpstreams(fn: (url: string, name: string) => Promise<void>) {
  const fakes = [
    ["openai", await startFakeOpenAI()],
    ["gemini", await startFakeGemini()],
    ["anthropic", await startFakeAnthropic()],
  ] as const;
  try {
    for (const [kind, fake] of fakes) {
      const server = await startTestServer({
        config: {
          upstream: [{
            name: kind,
            baseUrl: fake.url,
            serviceType: kind,
            apiKeys: ["sk-odd-key-000001"],
          }],
        },
      });
      try {
        await fn(server.url, kind);
      } finally {
        await server.close();
      }
    }
  } finally {
    for (const [, fake] of fakes) await fake.close();
  }
}

Deno.test("bad input: odd messages and fields never make the proxy fail with a 500", async () => {
  await withUpstreams(async (url, kind) => {
    const bodies = [
      ...ODD_MESSAGES.map((messages) => ({ messages })),
      ...ODD_FIELDS.map((extra) => ({ messages: [{ role: "user", content: "hi" }], ...extra })),
    ];
    for (const extra of bodies) {
      for (const stream of [false, true]) {
        const body = { model: "m", max_tokens: 50, stream, ...extra };
        const res = await fetch(`${url}/v1/messages`, {
          method: "POST",
          headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(10_000),
        });
        const text = await res.text();
        assert.ok(
          res.status < 500,
          `${kind} ${JSON.stringify(body)} → ${res.status} ${text.slice(0, 300)}`,
        );
        if (res.status >= 400) {
          const json = JSON.parse(text);
          assert.equal(json.type, "error");
          assert.doesNotMatch(json.error.message, /TypeError|undefined is not|Cannot read/);
        }
      }
    }
  });
});

/** A tool whose schema nests `depth` objects, as raw JSON text (too deep to stringify). */
function deepToolsBody(depth: number, stream: boolean): string {
  const schema = '{"type":"object","properties":{"a":'.repeat(depth) + '{"type":"string"}' +
    "}}".repeat(depth);
  return `{"model":"m","max_tokens":50,"stream":${stream},"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"deep","description":"${
    "d".repeat(3000)
  }","input_schema":${schema}}]}`;
}

/** An assistant turn whose tool input nests `depth` arrays, as raw JSON text. */
function deepInputBody(depth: number, stream: boolean): string {
  const input = `{"a":${"[".repeat(depth)}${"]".repeat(depth)}}`;
  return `{"model":"m","max_tokens":50,"stream":${stream},"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"t","input":${input}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"ok"}]}]}`;
}

Deno.test("bad input: a request nested past any real use is a 400 naming where, before any upstream is asked", async () => {
  await withUpstreams(async (url, kind) => {
    for (const path of ["/v1/messages", "/v1/messages/count_tokens"]) {
      for (const stream of [false, true]) {
        for (
          const [body, where] of [
            [deepToolsBody(100_000, stream), "tools"],
            // A million levels took over a second to write out again for the upstream, the
            // server answering nothing else meanwhile.
            [deepInputBody(1_000_000, stream), "messages"],
            [deepInputBody(300, stream), "messages"],
          ] as const
        ) {
          const res = await fetch(`${url}${path}`, {
            method: "POST",
            headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
            body,
            signal: AbortSignal.timeout(20_000),
          });
          const text = await res.text();
          const said = `${kind} ${path} → ${res.status} ${text.slice(0, 300)}`;
          assert.equal(res.status, 400, said);
          const { error } = JSON.parse(text);
          assert.equal(error.type, "invalid_request_error", said);
          assert.equal(error.message, `${where}: arrays and objects nested more than 256 deep`);
        }
      }
      // As deep as a real schema or tool input may go, it is answered.
      const res = await fetch(`${url}${path}`, {
        method: "POST",
        headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
        body: deepInputBody(200, false),
        signal: AbortSignal.timeout(20_000),
      });
      assert.equal(res.status, 200, `${kind} ${path}: ${await res.text()}`);
    }
  });
});

Deno.test("bad input: a body sent in many small chunks is read whole, and its limit holds", async () => {
  await withUpstreams(async (url, kind) => {
    if (kind !== "openai") return;
    const text = JSON.stringify({
      model: "m",
      max_tokens: 50,
      messages: [{ role: "user", content: "z".repeat(20_000) }],
    });
    const bytes = new TextEncoder().encode(text);
    const res = await fetch(`${url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
      // No content-length: chunked, 3 bytes at a time.
      body: new ReadableStream({
        start(ctrl) {
          for (let i = 0; i < bytes.length; i += 3) ctrl.enqueue(bytes.subarray(i, i + 3));
          ctrl.close();
        },
      }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal((await res.json()).type, "message");
  });
});

Deno.test("bad input: a client that leaves mid-upload frees its slot, is not counted and logs no error", async () => {
  const fake = await startFakeAnthropic();
  const server = await startTestServer({
    env: { MAX_CONCURRENT_REQUESTS: "1" },
    config: {
      upstream: [{ name: "a", baseUrl: fake.url, serviceType: "anthropic", apiKeys: ["sk-a-1"] }],
    },
  });
  const until = async (what: () => string, done: () => boolean | Promise<boolean>) => {
    for (let i = 0; i < 250; i++) {
      if (await done()) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.fail(`${what()}, still not after 5 s\n${server.logs.join("\n")}`);
  };
  try {
    const port = Number(new URL(server.url).port);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode(
      "POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n" +
        `x-api-key: ${ACCESS_KEY}\r\ntransfer-encoding: chunked\r\n\r\n5\r\n{"mod\r\n`,
    ));
    // The upload holds the one slot; then the client goes.
    await until(() => "the upload takes its slot", () => server.services.inFlight.count === 1);
    conn.close();
    // With the slot kept, every later request would be refused as over the limit.
    let status = 0;
    await until(() => `a request after it is served (last ${status})`, async () => {
      const res = await fetch(`${server.url}/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
        body: JSON.stringify({
          model: "m",
          max_tokens: 5,
          messages: [{ role: "user", content: "hi" }],
        }),
      });
      await res.body?.cancel();
      status = res.status;
      return status === 200;
    });
    const families = parsePrometheus(await (await fetch(`${server.url}/metrics`)).text());
    // (A 529 while the slot was still held is a refusal, and counted: only the upload is not.)
    assert.equal(
      sampleSum(families, "claude_proxy_requests_total", { status: "400" }),
      0,
      "the abandoned upload is counted as the client's error",
    );
    assert.ok(
      !server.logs.some((l) => /unhandled error|internal error/i.test(l)),
      server.logs.join("\n"),
    );
  } finally {
    await server.close();
    await fake.close();
  }
});

Deno.test("bad input: a conversation with nothing to send is refused in the client's terms, not the upstream's", async () => {
  await withUpstreams(async (url, kind) => {
    if (kind === "anthropic") return; // passed through: Anthropic words its own refusal
    for (
      const messages of [
        [],
        [{ role: "user", content: "" }],
        [{ role: "user", content: [] }],
        [{ role: "user", content: [{ type: "mystery_block" }] }],
      ]
    ) {
      const res = await fetch(`${url}/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": ACCESS_KEY, "content-type": "application/json" },
        body: JSON.stringify({ model: "m", max_tokens: 50, messages }),
      });
      const json = await res.json();
      const said = `${kind} ${JSON.stringify(messages)} → ${res.status} ${JSON.stringify(json)}`;
      assert.equal(res.status, 400, said);
      assert.equal(json.error.type, "invalid_request_error", said);
      assert.match(json.error.message, /^messages: /, said);
      assert.doesNotMatch(json.error.message, /contents|GenerateContentRequest|'messages'/, said);
    }
  });
});

Deno.test("bad input: a compressed body (gzip, deflate, br) is read as what it unpacks to; a coding the proxy cannot undo, bytes that do not unpack, or more than the limit once unpacked are said so", async () => {
  await withUpstreams(async (url, kind) => {
    if (kind !== "openai") return;
    const json = JSON.stringify({
      model: "m",
      max_tokens: 50,
      messages: [{ role: "user", content: "hello" }],
    });
    const packed = async (format: string, text: string) =>
      new Uint8Array(
        await new Response(
          new Blob([text]).stream().pipeThrough(new CompressionStream(format as CompressionFormat)),
        ).arrayBuffer(),
      ) as Uint8Array<ArrayBuffer>;
    const post = (coding: string, body: Uint8Array<ArrayBuffer>) =>
      fetch(`${url}/v1/messages`, {
        method: "POST",
        headers: {
          "x-api-key": ACCESS_KEY,
          "content-type": "application/json",
          "content-encoding": coding,
        },
        body,
      });
    for (const [coding, format] of [["gzip", "gzip"], ["deflate", "deflate"], ["br", "brotli"]]) {
      const res = await post(coding, await packed(format, json));
      assert.equal(res.status, 200, `${coding}: ${await res.clone().text()}`);
      assert.equal((await res.json()).type, "message");
    }
    // A list, in the order applied (identity is none), undone from the last.
    const deflated = await packed("deflate", json);
    const twice = new Uint8Array(
      await new Response(
        new Blob([deflated]).stream().pipeThrough(new CompressionStream("gzip")),
      ).arrayBuffer(),
    );
    for (
      const [coding, body] of [
        ["GZIP, identity", await packed("gzip", json)],
        ["deflate, gzip", twice],
      ] as const
    ) {
      const res = await post(coding, body);
      assert.equal(res.status, 200, `${coding}: ${await res.clone().text()}`);
      await res.body?.cancel();
    }
    const refused: Array<[string, Uint8Array<ArrayBuffer>, number, RegExp]> = [
      ["zstd", await packed("gzip", json), 415, /content-encoding zstd/],
      // Names an object has of its own are no codings either.
      ["constructor", await packed("gzip", json), 415, /content-encoding constructor/],
      ["__proto__", await packed("gzip", json), 415, /content-encoding __proto__/],
      ["gzip", new TextEncoder().encode(json), 400, /not valid gzip/],
      // 40 MB of spaces pack into a few KB: the limit holds for what they unpack to.
      [
        "gzip",
        await packed("gzip", json.slice(0, -1) + " ".repeat(40 * 1024 * 1024) + "}"),
        413,
        /limit/,
      ],
    ];
    for (const [coding, body, status, message] of refused) {
      const res = await post(coding, body);
      const answer = await res.json();
      assert.equal(res.status, status, JSON.stringify(answer));
      assert.equal(answer.type, "error");
      assert.match(answer.error.message, message);
    }
  });
});
