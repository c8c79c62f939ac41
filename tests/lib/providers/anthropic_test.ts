import assert from "node:assert/strict";
import { anthropicProvider, replaceModel } from "../../../lib/providers/anthropic.ts";

function check(raw: string, model: string, spliced: boolean) {
  const body = JSON.parse(raw);
  const out = replaceModel(raw, body, model);
  assert.deepEqual(JSON.parse(out), { ...body, model }, raw.slice(0, 80));
  if (spliced) {
    // Only the model's text changed: everything else is the client's bytes as sent.
    const before = raw.indexOf(JSON.stringify(body.model));
    assert.equal(out.slice(0, before), raw.slice(0, before));
    assert.equal(
      out.slice(before + JSON.stringify(model).length),
      raw.slice(before + JSON.stringify(body.model).length),
    );
  }
}

Deno.test("passthrough: the model is replaced in the client's bytes, the rest kept as sent", () => {
  const messages = [{ role: "user", content: 'say "model":"claude-x" ✻' }];
  check(JSON.stringify({ model: "claude-x", max_tokens: 5, messages }), "claude-y", true);
  check(JSON.stringify({ model: "claude-x", messages }, null, 2), "claude-y", true);
  check(JSON.stringify({ max_tokens: 5, model: "claude-x", messages }), "claude-y", true);
  check(JSON.stringify({ model: 'we"ird\\name', messages }), "claude-y", true);
  // Found only after the messages, where it could be nested: the body is written anew.
  check(JSON.stringify({ messages, model: "claude-x" }), "claude-y", false);
  const same = JSON.stringify({ model: "claude-x", messages });
  assert.equal(replaceModel(same, JSON.parse(same), "claude-x"), same);
});

Deno.test("passthrough URL: a base URL's query (a gateway's key) stays at the end, the client's joined to it", () => {
  const body = { model: "m", max_tokens: 10, messages: [{ role: "user" as const, content: "hi" }] };
  const url = (baseUrl: string, clientQuery?: string) =>
    anthropicProvider.buildRequest(body, {
      upstream: { name: "a", baseUrl, serviceType: "anthropic", apiKeys: ["k"] },
      model: "m",
      requestedModel: "m",
      apiKey: "k",
      stream: false,
      clientHeaders: new Headers(),
      clientQuery,
    }, JSON.stringify(body)).url;
  assert.equal(url("https://a.example/v1/"), "https://a.example/v1/messages");
  assert.equal(url("https://a.example", "?beta=true"), "https://a.example/v1/messages?beta=true");
  assert.equal(
    url("https://gw.example/anthropic?key=s3"),
    "https://gw.example/anthropic/v1/messages?key=s3",
  );
  assert.equal(
    url("https://gw.example/v1?key=s3", "?beta=true"),
    "https://gw.example/v1/messages?key=s3&beta=true",
  );
});

Deno.test("passthrough auth: the key goes as x-api-key, but as a bearer token to OpenRouter's Anthropic API, which documents only that", () => {
  const body = { model: "m", max_tokens: 5, messages: [{ role: "user" as const, content: "hi" }] };
  const sent = (baseUrl: string) =>
    anthropicProvider.buildRequest(body, {
      upstream: { name: "u", baseUrl, serviceType: "anthropic", apiKeys: ["sk-or-v1-abc"] },
      model: "m",
      requestedModel: "m",
      apiKey: "sk-or-v1-abc",
      stream: false,
      clientHeaders: new Headers({ authorization: "Bearer client-access-key" }),
    }, JSON.stringify(body)).headers as Record<string, string>;
  const openrouter = sent("https://openrouter.ai/api");
  assert.equal(openrouter.authorization, "Bearer sk-or-v1-abc");
  assert.equal(openrouter["x-api-key"], undefined);
  for (
    const baseUrl of [
      "https://api.anthropic.com",
      "https://notopenrouter.ai/api",
      "http://127.0.0.1:9",
    ]
  ) {
    const other = sent(baseUrl);
    assert.equal(other["x-api-key"], "sk-or-v1-abc", baseUrl);
    assert.equal(other.authorization, undefined, `${baseUrl}: the client's own never goes on`);
  }
});
