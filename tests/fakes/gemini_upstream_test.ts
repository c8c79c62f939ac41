import assert from "node:assert/strict";
import {
  chunk,
  type FakeUpstream,
  rateLimitBody,
  SKIP_SIGNATURE,
  sseReply,
  startFakeGemini,
  textPart,
  usageMetadata,
} from "./gemini_upstream.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const GEN = "/v1beta/models/gemini-2.5-flash:generateContent";
const STREAM = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse";

async function post(
  fake: FakeUpstream,
  path: string,
  body: unknown,
  key = "k1",
): Promise<{ status: number; json: Any; text: string }> {
  const res = await fetch(fake.url + path, {
    method: "POST",
    headers: { "content-type": "application/json", "x-goog-api-key": key },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

const user = (text: string) => ({ role: "user", parts: [{ text }] });

async function withFake(
  options: Parameters<typeof startFakeGemini>[0],
  fn: (fake: FakeUpstream) => Promise<void>,
): Promise<void> {
  const fake = await startFakeGemini(options);
  try {
    await fn(fake);
  } finally {
    await fake.close();
  }
}

async function rejects(fake: FakeUpstream, body: unknown, pattern: RegExp): Promise<void> {
  const r = await post(fake, GEN, body);
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.code, 400);
  assert.equal(r.json.error.status, "INVALID_ARGUMENT");
  assert.match(r.json.error.message, pattern);
}

function withTool(parameters: unknown) {
  return {
    contents: [user("hi")],
    tools: [{ functionDeclarations: [{ name: "Bash", description: "run", parameters }] }],
  };
}

Deno.test("fake: rejects unknown fields at the top level and in schemas, with the real wording", async () => {
  await withFake({}, async (fake) => {
    await rejects(
      fake,
      { contents: [user("hi")], max_tokens: 5 },
      /^Invalid JSON payload received\. Unknown name "max_tokens": Cannot find field\.$/,
    );
    await rejects(
      fake,
      withTool({
        type: "OBJECT",
        properties: { n: { type: "INTEGER", exclusiveMinimum: 0 } },
      }),
      /Unknown name "exclusiveMinimum" at 'tools\[0\]\.function_declarations\[0\]\.parameters\.properties\[0\]\.value': Cannot find field\./,
    );
    await rejects(
      fake,
      withTool({
        type: "object",
        properties: { a: { type: "string" } },
        additionalProperties: false,
      }),
      /Unknown name "additionalProperties"/,
    );
    await rejects(
      fake,
      withTool({ $schema: "x", type: "object", properties: { a: { type: "string" } } }),
      /Unknown name "\$schema"/,
    );
    // A property named like a keyword is a property, not a keyword.
    const ok = await post(
      fake,
      GEN,
      withTool({ type: "OBJECT", properties: { additionalProperties: { type: "STRING" } } }),
    );
    assert.equal(ok.status, 200, ok.text);
  });
});

Deno.test("fake: rejects what Gemini's Schema cannot hold", async () => {
  await withFake({}, async (fake) => {
    const prop = (p: unknown) => withTool({ type: "OBJECT", properties: { p } });
    await rejects(fake, prop({ type: "INTEGER", enum: [1, 2] }), /enum\[0\]' \(TYPE_STRING\), 1/);
    await rejects(fake, prop({ type: "INTEGER", enum: ["1"] }), /only allowed for STRING type/);
    await rejects(
      fake,
      prop({ type: "STRING", format: "uri" }),
      /only 'enum' and 'date-time' are supported for STRING type/,
    );
    await rejects(fake, prop({ type: "OBJECT" }), /should be non-empty for OBJECT type/);
    await rejects(fake, prop({ type: "ARRAY" }), /items: missing field/);
    await rejects(fake, prop({ description: "any" }), /type: must be specified/);
    await rejects(fake, prop({ type: ["string", "null"] }), /Invalid value at .*\.type'/);
    await rejects(
      fake,
      withTool({ type: "OBJECT", properties: { a: { type: "STRING" } }, required: ["b"] }),
      /required\[0\]: property is not defined/,
    );
    await rejects(
      fake,
      withTool({ type: "OBJECT", properties: {} }),
      /parameters\.properties: should be non-empty for OBJECT type/,
    );
  });
});

Deno.test("fake: a model refuses more output tokens than it has, in the real wording", async () => {
  await withFake({}, async (fake) => {
    const ask = (generationConfig: unknown) => ({ contents: [user("a")], generationConfig });
    const r = await post(
      fake,
      "/v1beta/models/gemini-2.0-flash:generateContent",
      ask({ maxOutputTokens: 32000 }),
    );
    assert.equal(r.status, 400);
    assert.equal(
      r.json.error.message,
      "Unable to submit request because it has a maxOutputTokens value of 32000 but the supported range is from 1 (inclusive) to 8193 (exclusive). Update the value and try again.",
    );
    const ok = await post(
      fake,
      "/v1beta/models/gemini-2.0-flash:generateContent",
      ask({ maxOutputTokens: 8192 }),
    );
    assert.equal(ok.status, 200, ok.text);
    assert.equal((await post(fake, GEN, ask({ maxOutputTokens: 64000 }))).status, 200);
    await rejects(fake, ask({ maxOutputTokens: 65537 }), /to 65537 \(exclusive\)/);
  });
});

Deno.test("fake: a response schema only with JSON output", async () => {
  await withFake({}, async (fake) => {
    const ask = (generationConfig: unknown) => ({ contents: [user("a")], generationConfig });
    const schema = { type: "object", properties: { n: { type: "integer", enum: [1, 2] } } };
    await rejects(fake, ask({ responseJsonSchema: schema }), /response_mime_type: must be/);
    await rejects(
      fake,
      ask({ responseJsonSchema: "x", responseMimeType: "application/json" }),
      /response_json_schema/,
    );
    const json = await post(
      fake,
      GEN,
      ask({ responseJsonSchema: schema, responseMimeType: "application/json" }),
    );
    assert.equal(json.status, 200, json.text);
  });
});

Deno.test("fake: rejects empty parts, empty text, bad roles and broken alternation", async () => {
  await withFake({}, async (fake) => {
    await rejects(
      fake,
      { contents: [{ role: "user", parts: [] }] },
      /contents\[0\]\.parts: contents\.parts must not be empty/,
    );
    await rejects(
      fake,
      { contents: [{ role: "user", parts: [{ text: "" }] }] },
      /required oneof field 'data' must have one initialized field/,
    );
    await rejects(
      fake,
      {
        contents: [{
          role: "user",
          parts: [{ text: "a", inlineData: { mimeType: "x", data: "AA==" } }],
        }],
      },
      /required oneof field 'data'/,
    );
    await rejects(
      fake,
      { contents: [user("a"), { role: "assistant", parts: [{ text: "b" }] }] },
      /Please use a valid role: user, model\./,
    );
    await rejects(fake, { contents: [user("a"), user("b")] }, /alternate between user and model/);
    await rejects(
      fake,
      { contents: [{ role: "model", parts: [{ text: "b" }] }, user("a")] },
      /first turn/,
    );
    await rejects(
      fake,
      { contents: [user("a")], generationConfig: { maxOutputTokens: 10, thinking: {} } },
      /Unknown name "thinking" at 'generation_config'/,
    );
  });
});

Deno.test("fake: function responses must answer the calls of the turn before, by name and count", async () => {
  await withFake({}, async (fake) => {
    const call = (name: string) => ({ functionCall: { name, args: {} } });
    const answer = (name: string) => ({ functionResponse: { name, response: { output: "x" } } });
    const convo = (calls: unknown[], answers: unknown[]) => ({
      contents: [user("go"), { role: "model", parts: calls }, { role: "user", parts: answers }],
    });
    await rejects(
      fake,
      convo([call("Read"), call("Bash")], [answer("Read")]),
      /number of function response parts is equal to the number of function call parts/,
    );
    await rejects(
      fake,
      convo([call("Read")], [answer("toolu_123")]),
      /"toolu_123" does not answer "Read"/,
    );
    await rejects(
      fake,
      {
        contents: [user("go"), { role: "model", parts: [{ text: "hm" }] }, {
          role: "user",
          parts: [answer("Read")],
        }],
      },
      /function response turn comes immediately after a function call turn/,
    );
    await rejects(
      fake,
      convo([call("Read")], [{ functionResponse: { name: "Read", id: "nope", response: {} } }]),
      /id "nope" does not match/,
    );
    await rejects(
      fake,
      convo([call("Read")], [{ functionResponse: { name: "Read", response: "text" } }]),
      /function_response\.response/,
    );
    const ok = await post(
      fake,
      GEN,
      convo([call("Read"), call("Bash")], [answer("Bash"), answer("Read")]),
    );
    assert.equal(ok.status, 200, ok.text);
  });
});

Deno.test("fake: a thinking model wants the thought signature back on the first call", async () => {
  await withFake({ thinkingModel: true }, async (fake) => {
    const history = (sig?: string) => ({
      contents: [
        user("go"),
        {
          role: "model",
          parts: [
            { text: "Reading." },
            { functionCall: { name: "Read", args: {} }, ...(sig ? { thoughtSignature: sig } : {}) },
          ],
        },
        {
          role: "user",
          parts: [{ functionResponse: { name: "Read", response: { output: "x" } } }],
        },
      ],
    });
    await rejects(
      fake,
      history(),
      /Function call is missing a thought_signature in functionCall parts.*default_api:Read` , position 2/,
    );
    await rejects(fake, history("bm90LWlzc3VlZA=="), /Corrupted thought signature/);
    await rejects(fake, history("not base64!"), /Base64 decoding failed/);
    assert.equal((await post(fake, GEN, history(SKIP_SIGNATURE))).status, 200);

    // A signature the fake issued itself is accepted back.
    const first = await post(fake, GEN, {
      contents: [user('use tool Read with {"path":"/a"}')],
      tools: [{ functionDeclarations: [{ name: "Read" }] }],
    });
    const part = first.json.candidates[0].content.parts[0];
    assert.ok(part.thoughtSignature);
    assert.equal(part.functionCall.id, undefined, "no call id, like the Developer API");
    assert.equal((await post(fake, GEN, history(part.thoughtSignature))).status, 200);
  });
});

Deno.test("fake: keys are checked like the real API", async () => {
  await withFake({ requireKey: ["good"] }, async (fake) => {
    const wrong = await post(fake, GEN, { contents: [user("hi")] }, "bad");
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json.error.details[0].reason, "API_KEY_INVALID");
    const none = await fetch(fake.url + GEN, { method: "POST", body: "{}" });
    assert.equal(none.status, 403);
    await none.body?.cancel();
    const viaQuery = await fetch(`${fake.url}${GEN}?key=good`, {
      method: "POST",
      body: JSON.stringify({ contents: [user("hi")] }),
    });
    assert.equal(viaQuery.status, 200);
    await viaQuery.body?.cancel();
    assert.equal((await post(fake, GEN, { contents: [user("hi")] }, "good")).status, 200);
    const missing = await post(fake, "/v1beta/models/x:embedContent", {});
    assert.equal(missing.status, 404);
  });
});

Deno.test("fake: default answers stream text, call tools, echo tool results, count tokens", async () => {
  await withFake({}, async (fake) => {
    const sse = await post(fake, STREAM, { contents: [user("hi")] });
    const events = sse.text.split("\r\n\r\n").filter(Boolean).map((e) => JSON.parse(e.slice(6)));
    assert.ok(events.length >= 2, "streamed over a few chunks");
    assert.equal(
      events.map((e: Any) => e.candidates[0].content.parts[0].text).join(""),
      "Hello from fake Gemini",
    );
    assert.equal(events.at(-1).candidates[0].finishReason, "STOP");
    assert.ok(events.at(-1).usageMetadata.promptTokenCount > 0);

    const array = await post(fake, "/v1beta/models/m:streamGenerateContent", {
      contents: [user("hi")],
    });
    assert.ok(Array.isArray(array.json), "without alt=sse the stream is a JSON array");

    const ask = { contents: [user('please use tool Bash with {"command":"ls"}')] };
    const undeclared = await post(fake, GEN, ask);
    assert.ok(undeclared.json.candidates[0].content.parts[0].text, "a model calls declared tools");
    const tool = await post(fake, GEN, {
      ...ask,
      tools: [{ functionDeclarations: [{ name: "Bash" }] }],
    });
    assert.deepEqual(tool.json.candidates[0].content.parts, [
      { functionCall: { name: "Bash", args: { command: "ls" } } },
    ]);
    const forced = await post(fake, GEN, {
      contents: [user("hi")],
      tools: [{ functionDeclarations: [{ name: "Bash" }, { name: "Read" }] }],
      toolConfig: { functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["Read"] } },
    });
    assert.deepEqual(forced.json.candidates[0].content.parts, [
      { functionCall: { name: "Read", args: {} } },
    ], "mode ANY makes the model call a function");

    const result = await post(fake, GEN, {
      contents: [
        user("go"),
        { role: "model", parts: [{ functionCall: { name: "Bash", args: {} } }] },
        {
          role: "user",
          parts: [{ functionResponse: { name: "Bash", response: { output: "files" } } }],
        },
      ],
    });
    assert.equal(
      result.json.candidates[0].content.parts[0].text,
      'Tool result received: {"output":"files"}',
    );

    const count = await post(fake, "/v1beta/models/m:countTokens", {
      generateContentRequest: { model: "models/m", contents: [user("hi")] },
    });
    assert.ok(count.json.totalTokens > 0);
    const noModel = await post(fake, "/v1beta/models/m:countTokens", {
      generateContentRequest: { contents: [user("hi")] },
    });
    assert.equal(noModel.status, 400);
    assert.equal(fake.requests.length, 8);
    assert.equal(fake.requests[0].path, STREAM);
    assert.equal(fake.requests[0].headers.get("x-goog-api-key"), "k1");
    assert.deepEqual(fake.requests[0].body, { contents: [user("hi")] });
  });
});

Deno.test("fake: queued replies, in order, after the request passed the checks", async () => {
  await withFake({}, async (fake) => {
    fake.enqueue(
      { status: 429, json: rateLimitBody("3s"), headers: { "x-extra": "1" } },
      sseReply(
        [chunk([textPart("queued")], { finishReason: "STOP", usage: usageMetadata(1, 1) })],
        5,
      ),
    );
    const invalid = await post(fake, GEN, { contents: [] });
    assert.equal(invalid.status, 400, "an invalid request does not consume the queue");
    const limited = await post(fake, GEN, { contents: [user("a")] });
    assert.equal(limited.status, 429);
    assert.equal(limited.json.error.details.at(-1).retryDelay, "3s");
    const streamed = await post(fake, STREAM, { contents: [user("a")] });
    assert.match(streamed.text, /^data: .*"queued"/);
    const fallback = await post(fake, GEN, { contents: [user("a")] });
    assert.equal(fallback.json.candidates[0].content.parts[0].text, "Hello from fake Gemini");
  });
});

Deno.test("fake: a reset cuts the body after some chunks", async () => {
  await withFake({}, async (fake) => {
    fake.enqueue({ resetAfterChunks: 1, sse: ["data: {}\r\n\r\n", "data: {}\r\n\r\n"] });
    const res = await fetch(fake.url + STREAM, {
      method: "POST",
      headers: { "x-goog-api-key": "k" },
      body: JSON.stringify({ contents: [user("a")] }),
    });
    assert.equal(res.status, 200);
    await assert.rejects(() => res.text());
  });
});

Deno.test("fake: a hanging reply holds until the client gives up, and close releases it", async () => {
  await withFake({}, async (fake) => {
    fake.enqueue({ hang: true }, { hang: true });
    const abort = new AbortController();
    const pending = fetch(fake.url + GEN, {
      method: "POST",
      body: JSON.stringify({ contents: [user("a")] }),
      signal: abort.signal,
    });
    const timer = setTimeout(() => abort.abort(), 50);
    await assert.rejects(() => pending);
    clearTimeout(timer);
  });
  // close() with a request still hanging must not wait forever.
  const fake = await startFakeGemini();
  fake.enqueue({ hang: true });
  const pending = fetch(fake.url + GEN, {
    method: "POST",
    body: JSON.stringify({ contents: [user("a")] }),
  }).then(async (r) => {
    await r.body?.cancel();
    return r.status;
  }, () => 0);
  await new Promise((r) => setTimeout(r, 30));
  await fake.close();
  assert.ok([0, 503].includes(await pending));
});
