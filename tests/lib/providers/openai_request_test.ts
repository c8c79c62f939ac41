// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import type { MessagesRequest } from "../../../lib/anthropic.ts";
import { parseBody, sharedTools } from "../../../lib/parse_body.ts";
import { openaiProvider } from "../../../lib/providers/openai.ts";
import { openaiToolName } from "../../../lib/providers/openai_names.ts";
import {
  type CompatRules,
  mistralExtraForbidden,
  validateChatRequest,
} from "../../fakes/openai_upstream.ts";
import { HAVE_CLAUDE_CODE_FIXTURES } from "../../helpers/fixtures.ts";
import { upstreamJson } from "../../helpers/upstream_body.ts";
import {
  build,
  claudeCodeRequests,
  completion,
  context,
  LONG_TOOL,
  request,
} from "../../helpers/openai_calls.ts";

Deno.test("request: tools, tool names, tool_choice and parallel calls", () => {
  const tools = [
    { name: "Bash", description: "Run", input_schema: { type: "object", properties: {} } },
    { name: LONG_TOOL, input_schema: { type: "object" } },
    { name: "mcp.server:tool", input_schema: { type: "object" } },
    { type: "web_search_20250305", name: "web_search", max_uses: 5 },
    { type: "custom", name: "Custom", input_schema: { type: "object" } },
  ];
  const body = build(
    request({ tools, tool_choice: { type: "any", disable_parallel_tool_use: true } }),
  );
  const names = body.tools.map((t: any) => t.function.name);
  assert.equal(names.length, 4, "the server tool is not sent");
  for (const n of names) assert.match(n, /^[a-zA-Z0-9_-]{1,64}$/);
  assert.equal(names[0], "Bash");
  assert.equal(names[1], openaiToolName(LONG_TOOL));
  assert.notEqual(openaiToolName("mcp.server:tool"), openaiToolName("mcp_server_tool"));
  assert.deepEqual(body.tools[0], {
    type: "function",
    function: { name: "Bash", description: "Run", parameters: { type: "object", properties: {} } },
  });
  assert.equal(body.tool_choice, "required");
  assert.equal(body.parallel_tool_calls, false);

  const choose = (tool_choice: any) => build(request({ tools, tool_choice }));
  assert.equal(choose({ type: "auto" }).tool_choice, "auto");
  assert.equal(choose({ type: "none" }).tool_choice, "none");
  assert.deepEqual(choose({ type: "tool", name: LONG_TOOL }).tool_choice, {
    type: "function",
    function: { name: openaiToolName(LONG_TOOL) },
  });
  assert.equal("parallel_tool_calls" in choose({ type: "auto" }), false);
  assert.equal(choose({ type: "tool", name: "web_search" }).tool_choice, "auto", "not a function");
  // No sendable tools: neither tools nor tool_choice nor parallel_tool_calls may be sent.
  const none = build(request({
    tools: [tools[3]],
    tool_choice: { type: "auto", disable_parallel_tool_use: true },
  }));
  assert.equal("tools" in none || "tool_choice" in none || "parallel_tool_calls" in none, false);
});

Deno.test("request: sampling, stop sequences and the max tokens field per upstream", () => {
  const body = request({
    max_tokens: 64000,
    temperature: 0.3,
    top_p: 0.9,
    top_k: 40,
    stop_sequences: ["a", "b", "c", "d", "e"],
  });
  const openai = build(body, context({ serviceType: "openai" }));
  assert.equal(openai.max_completion_tokens, 64000);
  assert.equal("max_tokens" in openai, false);
  assert.equal(openai.temperature, 0.3);
  assert.equal(openai.top_p, 0.9);
  assert.equal("top_k" in openai, false);
  assert.deepEqual(openai.stop, ["a", "b", "c", "d"]);

  const custom = build(body, context({ serviceType: "custom", maxTokens: 8192 }));
  assert.equal(custom.max_tokens, 8192);
  assert.equal("max_completion_tokens" in custom, false);
  assert.equal(custom.top_k, 40);

  const configured = build(body, context({ serviceType: "openai", maxTokensField: "max_tokens" }));
  assert.equal(configured.max_tokens, 64000);
  assert.equal("max_completion_tokens" in configured, false);
});

Deno.test("request: thinking becomes reasoning_effort only where it is understood", () => {
  const effort = (extra: Partial<MessagesRequest>, kind = "openai", model = "o3") =>
    build(request(extra), { ...context({ serviceType: kind }), model }).reasoning_effort;
  // gpt-4o and gpt-4.1 reject reasoning_effort: Claude Code's adaptive thinking must not reach them.
  assert.equal(
    effort(
      { thinking: { type: "adaptive" }, output_config: { effort: "high" } },
      "openai",
      "gpt-4o",
    ),
    undefined,
  );
  assert.equal(
    effort({ thinking: { type: "enabled", budget_tokens: 8000 } }, "openai", "gpt-4.1"),
    undefined,
  );
  assert.equal(
    effort(
      { thinking: { type: "adaptive" }, output_config: { effort: "high" } },
      "openai",
      "gpt-5",
    ),
    "high",
  );
  assert.equal(effort({ thinking: { type: "enabled", budget_tokens: 2048 } }), "low");
  assert.equal(effort({ thinking: { type: "enabled", budget_tokens: 8000 } }), "medium");
  assert.equal(effort({ thinking: { type: "enabled", budget_tokens: 32000 } }), "high");
  assert.equal(effort({ thinking: { type: "enabled", budget_tokens: 8000 } }, "custom"), "medium");
  assert.equal(effort({ thinking: { type: "adaptive" }, output_config: { effort: "low" } }), "low");
  assert.equal(
    effort({ thinking: { type: "adaptive" }, output_config: { effort: "xhigh" } }),
    "high",
  );
  assert.equal(
    effort({ thinking: { type: "adaptive" }, output_config: { effort: "max" } }),
    "high",
  );
  // Claude Code's adaptive thinking and effort reach compatible servers too (Claude or Gemini behind
  // OpenRouter think only when told to; one that refuses the field has it left out from then on);
  // adaptive thinking without an effort leaves the server's default.
  assert.equal(
    effort({ thinking: { type: "adaptive" }, output_config: { effort: "high" } }, "custom"),
    "high",
  );
  assert.equal(effort({ thinking: { type: "adaptive" } }, "custom"), undefined);
  assert.equal(effort({ output_config: { effort: "high" } }, "custom"), undefined);
  // Subagents send disabled thinking with an effort: contradictory upstream, so nothing.
  assert.equal(
    effort({ thinking: { type: "disabled" }, output_config: { effort: "high" } }),
    undefined,
  );
  assert.equal(effort({}), undefined);
  // Effort applies to every answer, with thinking or without; given, it outweighs a budget.
  assert.equal(effort({ output_config: { effort: "low" } }), "low");
  assert.equal(effort({ output_config: { effort: "max" } }, "openai", "gpt-5"), "high");
  assert.equal(
    effort({
      thinking: { type: "enabled", budget_tokens: 2000 },
      output_config: { effort: "medium" },
    }),
    "medium",
  );
  assert.equal(effort({ output_config: { effort: "low" } }, "openai", "gpt-4.1"), undefined);
});

Deno.test("request: metadata.user_id becomes a stable user of at most 64 characters", () => {
  const long = JSON.stringify({ device_id: "5".repeat(64), account_uuid: "", session_id: "8acc" });
  const a = build(request({ metadata: { user_id: long } })).user;
  const b = build(request({ metadata: { user_id: long } })).user;
  const other = build(request({ metadata: { user_id: long + "x" } })).user;
  assert.ok(a.length <= 64);
  assert.equal(a, b);
  assert.notEqual(a, other);
  assert.equal(build(request({ metadata: { user_id: "alice" } })).user, "alice");
});

Deno.test("request: output_config.format becomes response_format; streaming asks for usage", () => {
  const schema = {
    type: "object",
    properties: { title: { type: "string" } },
    required: ["title"],
    additionalProperties: false,
  };
  const body = build(
    request({ output_config: { effort: "high", format: { type: "json_schema", schema } } }),
  );
  assert.deepEqual(body.response_format, {
    type: "json_schema",
    json_schema: { name: "output", schema, strict: true },
  });
  assert.equal(body.stream, true);
  assert.deepEqual(body.stream_options, { include_usage: true });
  const loose = build(
    request({ output_config: { format: { type: "json_schema", schema: { type: "object" } } } }),
    context({}, false),
  );
  assert.equal(loose.response_format.json_schema.strict, undefined);
  assert.equal("stream" in loose || "stream_options" in loose, false);
  // A schema whose properties are no object goes as sent, not strict, for the upstream to judge.
  for (const properties of [null, ["title"], "title"]) {
    const odd = { ...schema, properties };
    const sent = build(
      request({ output_config: { format: { type: "json_schema", schema: odd } } }),
    ).response_format;
    assert.deepEqual(sent, { type: "json_schema", json_schema: { name: "output", schema: odd } });
  }
});

Deno.test("request: Anthropic-only fields are never forwarded", () => {
  const body = build(request({
    system: [{ type: "text", text: "s", cache_control: { type: "ephemeral", ttl: "1h" } }],
    thinking: { type: "adaptive" },
    output_config: { effort: "high" },
    context_management: { edits: [] },
    service_tier: "standard_only",
    container: "c1",
    metadata: { user_id: "u" },
    inference_geo: "us",
    messages: [{
      role: "user",
      content: [{ type: "text", text: "hi", cache_control: { type: "ephemeral" } }],
    }],
  }));
  for (
    const key of [
      "thinking",
      "output_config",
      "context_management",
      "service_tier",
      "container",
      "metadata",
      "inference_geo",
      "system",
    ]
  ) {
    assert.equal(key in body, false, key);
  }
  assert.equal(JSON.stringify(body).includes("cache_control"), false);
  assert.equal(body.model, "gpt-4.1");
});

const FORBIDDEN_TOP_LEVEL = [
  "system",
  "thinking",
  "output_config",
  "context_management",
  "metadata",
  "service_tier",
  "container",
  "stop_sequences",
  "top_k",
];

function assertAcceptable(body: any, label: string, compat: CompatRules = {}): void {
  // The fake's validator encodes what api.openai.com rejects (unknown fields, roles, pairing…).
  validateChatRequest(body, compat);
  for (const key of FORBIDDEN_TOP_LEVEL) assert.equal(key in body, false, `${label}: ${key}`);
  assert.equal(JSON.stringify(body).includes("cache_control"), false, `${label}: cache_control`);
  assert.equal(JSON.stringify(body).includes("x-anthropic-billing-header"), false, label);
  for (const t of body.tools ?? []) assert.match(t.function.name, /^[a-zA-Z0-9_-]{1,64}$/);
  body.messages.forEach((m: any, i: number) => {
    if (m.role === "assistant" && m.tool_calls) {
      const ids = m.tool_calls.map((c: any) => c.id).sort();
      const answers = body.messages.slice(i + 1, i + 1 + ids.length);
      assert.deepEqual(answers.map((a: any) => a.role), ids.map(() => "tool"), label);
      assert.deepEqual(answers.map((a: any) => a.tool_call_id).sort(), ids, label);
      for (const c of m.tool_calls) JSON.parse(c.function.arguments);
    } else {
      assert.ok(
        typeof m.content === "string" ? m.content.length > 0 : m.content.length > 0,
        `${label}: empty content in message ${i}`,
      );
    }
  });
  if (body.user !== undefined) assert.ok(body.user.length <= 64);
}

Deno.test({
  name: "claude code: every recorded request translates into a body the OpenAI API accepts",
  ignore: !HAVE_CLAUDE_CODE_FIXTURES,
}, () => {
  const requests = claudeCodeRequests();
  assert.ok(requests.length >= 4, "the Claude Code fixtures are missing");
  for (const [name, req] of requests) {
    for (const kind of ["openai", "custom"]) {
      for (const stream of [true, false]) {
        const body = build(req, context({ serviceType: kind }, stream));
        // A compatible server may hold to its chat template and refuse `reasoning_content` (Groq).
        const compat = kind === "custom"
          ? { strictTemplate: true, rejectReasoningContent: true }
          : {};
        assertAcceptable(body, `${name} (${kind}, stream ${stream})`, compat);
        if (req.system) assert.equal(body.messages[0].role, "system");
        if (req.tools?.length) assert.equal(body.tools.length, req.tools.length);
      }
    }
  }
});

Deno.test({
  name: "claude code: api.mistral.ai is sent only fields it knows, and ids and turns it accepts",
  ignore: !HAVE_CLAUDE_CODE_FIXTURES,
}, () => {
  for (const [name, req] of claudeCodeRequests()) {
    for (const stream of [true, false]) {
      const ctx = context({ serviceType: "custom", baseUrl: "https://api.mistral.ai/v1" }, stream);
      // Top-level sampling and thinking too, as the SDKs send them.
      const body = build({
        ...req,
        top_k: 20,
        temperature: 0.5,
        thinking: { type: "enabled", budget_tokens: 2048 },
      }, { ...ctx, model: "mistral-large-latest" });
      assert.equal(mistralExtraForbidden(body), undefined, `${name} stream=${stream}`);
      assert.equal(body.temperature, 0.5);
      validateChatRequest(body, { strictTemplate: true, mistral: true });
    }
  }
  // A server that is not Mistral's API keeps asking for usage in streams (vLLM sends none else).
  const vllm = build(request(), {
    ...context({ serviceType: "custom", baseUrl: "http://gpu:8000/v1" }),
    model: "mistralai/Devstral-Small-2507",
  });
  assert.deepEqual(vllm.stream_options, { include_usage: true });
});

Deno.test("request: a prefill (the answer's start as the last message) is marked as one for Mistral", () => {
  const prefilled = build(
    request({
      messages: [{ role: "user", content: "Name a colour." }, {
        role: "assistant",
        content: "The colour is",
      }],
    }),
    {
      ...context({ serviceType: "custom", baseUrl: "https://api.mistral.ai/v1" }),
      model: "mistral-large-latest",
    },
  );
  validateChatRequest(prefilled, { mistral: true });
  assert.deepEqual(prefilled.messages.at(-1), {
    role: "assistant",
    content: "The colour is",
    prefix: true,
  });
});

Deno.test("request: OpenAI reasoning models get no sampling settings or stop sequences", () => {
  const body = request({ temperature: 0.2, top_p: 0.9, stop_sequences: ["END"] });
  const o3 = build(body, { ...context(), model: "o3" });
  assert.equal("temperature" in o3, false);
  assert.equal("top_p" in o3, false);
  assert.equal("stop" in o3, false);
  const gpt4o = build(body, { ...context(), model: "gpt-4o" });
  assert.equal(gpt4o.temperature, 0.2);
  assert.deepEqual(gpt4o.stop, ["END"]);
});

Deno.test("a client's repeated tools are converted once and sent the same, long names mapped back", () => {
  const long = `mcp__${"very_long_server_name_".repeat(4)}__do.thing`;
  const tools = [
    ...Array.from({ length: 10 }, (_, i) => ({
      name: `tool_${i}`,
      description: `Does thing ${i} — carefully. `.repeat(10),
      input_schema: { type: "object", properties: { a: { type: "string" } } },
    })),
    { name: long, input_schema: { type: "object", properties: {} } },
    { type: "web_search_20250305", name: "web_search" },
    { type: "bash_20250124", name: "bash" },
    { type: "web_fetch_20250910", name: "web_fetch" },
  ];
  const raw = JSON.stringify(request({ tools, tool_choice: { type: "tool", name: long } }));
  const fresh = build(JSON.parse(raw));
  assert.equal(fresh.tools[11].function.name, "bash", "a client tool is a function");
  assert.match(fresh.messages[0].content, /not available[^\n]*: web_fetch\./);
  parseBody(raw);
  const reused = parseBody(raw) as MessagesRequest;
  assert.ok(sharedTools(reused.tools), "the second body's tools are the shared array");
  const c = context();
  const req = openaiProvider.buildRequest(reused, c, raw);
  assert.ok(req.body instanceof Uint8Array, "sent as bytes put together ahead");
  assert.deepEqual(upstreamJson(req), fresh);
  assert.deepEqual(upstreamJson(openaiProvider.buildRequest(reused, context(), raw)), fresh);
  assert.equal(fresh.tools.length, 12);
  assert.equal(fresh.tool_choice.function.name, fresh.tools[10].function.name);
  const msg = openaiProvider.parseResponse(
    completion({
      content: null,
      tool_calls: [{
        id: "call_1",
        type: "function",
        function: { name: fresh.tools[10].function.name, arguments: "{}" },
      }],
    }, "tool_calls"),
    c,
  );
  assert.equal((msg.content[0] as { name: string }).name, long);
});
