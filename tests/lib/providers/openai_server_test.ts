import assert from "node:assert/strict";
import type { MessagesRequest } from "../../../lib/anthropic.ts";
import { openaiProvider } from "../../../lib/providers/openai.ts";
import { OPENAI_THINKING_SIGNATURE } from "../../../lib/providers/openai_answer_fields.ts";
import { chatCompletionsUrl } from "../../../lib/providers/openai_server.ts";
import type { UpstreamConfig } from "../../../lib/providers/types.ts";
import { validateChatRequest } from "../../fakes/openai_upstream.ts";
import { build, context, request } from "../../helpers/openai_calls.ts";

Deno.test("request: URL joins without doubling a version path; bearer auth", () => {
  assert.equal(
    chatCompletionsUrl("https://api.openai.com"),
    "https://api.openai.com/v1/chat/completions",
  );
  assert.equal(
    chatCompletionsUrl("https://api.openai.com/"),
    "https://api.openai.com/v1/chat/completions",
  );
  assert.equal(
    chatCompletionsUrl("https://api.deepseek.com/v1/"),
    "https://api.deepseek.com/v1/chat/completions",
  );
  assert.equal(
    chatCompletionsUrl("https://open.bigmodel.cn/api/paas/v4"),
    "https://open.bigmodel.cn/api/paas/v4/chat/completions",
  );
  assert.equal(
    chatCompletionsUrl("http://localhost:8000/v1/chat/completions/"),
    "http://localhost:8000/v1/chat/completions",
  );
  assert.equal(chatCompletionsUrl(""), "https://api.openai.com/v1/chat/completions");
  // A version earlier in the path: Google's OpenAI endpoint as its docs give it, Cloudflare's.
  for (
    const google of [
      "https://generativelanguage.googleapis.com/v1beta/openai/",
      "https://generativelanguage.googleapis.com/v1beta/openai",
    ]
  ) {
    assert.equal(
      chatCompletionsUrl(google),
      "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions",
    );
  }
  assert.equal(
    chatCompletionsUrl("https://gateway.ai.cloudflare.com/v1/acct/gw/openai"),
    "https://gateway.ai.cloudflare.com/v1/acct/gw/openai/chat/completions",
  );
  assert.equal(
    chatCompletionsUrl("https://api.deepinfra.com/v1/openai"),
    "https://api.deepinfra.com/v1/openai/chat/completions",
  );
  // Cloudflare's gateway: most providers' paths stand for a versioned base, some take /v1.
  for (
    const [provider, tail] of [
      ["groq", ""],
      ["deepseek", ""],
      ["compat", ""],
      ["workers-ai", "/v1"],
      ["mistral", "/v1"],
      ["openrouter", "/v1"],
    ]
  ) {
    assert.equal(
      chatCompletionsUrl(`https://gateway.ai.cloudflare.com/v1/acct/gw/${provider}`),
      `https://gateway.ai.cloudflare.com/v1/acct/gw/${provider}${tail}/chat/completions`,
    );
  }
  assert.equal(
    chatCompletionsUrl(
      "https://aiplatform.googleapis.com/v1/projects/p/locations/global/endpoints/openapi",
    ),
    "https://aiplatform.googleapis.com/v1/projects/p/locations/global/endpoints/openapi/chat/completions",
  );
  assert.equal(
    chatCompletionsUrl("https://models.github.ai/inference"),
    "https://models.github.ai/inference/chat/completions",
  );
  // A host or a word that only looks like a version is no version path.
  assert.equal(
    chatCompletionsUrl("http://v1.example.com/api"),
    "http://v1.example.com/api/v1/chat/completions",
  );
  assert.equal(
    chatCompletionsUrl("http://example.com/v1x/api"),
    "http://example.com/v1x/api/v1/chat/completions",
  );
  // Azure: a deployment's path takes no version, and the api-version query stays at the end.
  assert.equal(
    chatCompletionsUrl(
      "https://r.openai.azure.com/openai/deployments/gpt4o?api-version=2024-10-21",
    ),
    "https://r.openai.azure.com/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21",
  );
  assert.equal(
    chatCompletionsUrl("https://r.openai.azure.com/openai/v1/"),
    "https://r.openai.azure.com/openai/v1/chat/completions",
  );
  const req = openaiProvider.buildRequest(request(), context(), "");
  assert.equal(req.headers.authorization, "Bearer sk-test");
  assert.equal(req.headers["content-type"], "application/json");
  assert.equal(req.method, "POST");
});

Deno.test("request: thinking history goes back as reasoning_content to DeepSeek only", () => {
  const messages: MessagesRequest["messages"] = [
    { role: "user", content: "go" },
    {
      role: "assistant",
      content: [
        {
          type: "thinking",
          thinking: "I should list files.",
          signature: OPENAI_THINKING_SIGNATURE,
        },
        { type: "tool_use", id: "t1", name: "Bash", input: { command: "ls" } },
      ],
    },
    { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "a b" }] },
  ];
  const reasoning = (upstream: Partial<UpstreamConfig>, model = "gpt-4.1") => {
    const body = build(request({ messages }), { ...context(upstream), model });
    assert.equal(body.messages[1].role, "assistant");
    return body.messages[1].reasoning_content;
  };
  const deepseek = { serviceType: "custom", baseUrl: "https://api.deepseek.com/v1" };
  assert.equal(reasoning(deepseek, "deepseek-reasoner"), "I should list files.");
  // By host alone, and by model name alone (DeepSeek behind a router).
  assert.equal(reasoning(deepseek, "chat"), "I should list files.");
  const router = { serviceType: "custom", baseUrl: "https://openrouter.ai/api/v1" };
  assert.equal(reasoning(router, "DeepSeek/DeepSeek-R1"), "I should list files.");
  // Groq and Cerebras answer 400 to the field; OpenAI has no such field.
  const groq = { serviceType: "custom", baseUrl: "https://api.groq.com/openai/v1" };
  assert.equal(reasoning(groq, "qwen/qwen3-32b"), undefined);
  assert.equal(reasoning({ serviceType: "custom", baseUrl: "http://localhost:8000" }), undefined);
  assert.equal(reasoning({ serviceType: "openai" }), undefined);
  // Under `openai`, DeepSeek's and Moonshot's own hosts still count (their APIs refuse the next
  // tool-call turn without it); a model's name alone does not.
  const deepseekAsOpenai = { serviceType: "openai", baseUrl: "https://api.deepseek.com" };
  assert.equal(reasoning(deepseekAsOpenai, "deepseek-v4-pro"), "I should list files.");
  const moonshot = { serviceType: "openai", baseUrl: "https://api.moonshot.ai/v1" };
  assert.equal(reasoning(moonshot, "kimi-k2.6"), "I should list files.");
  assert.equal(reasoning({ serviceType: "openai" }, "deepseek-chat"), undefined);
  const body = build(request({ messages }), {
    ...context(groq),
    model: "qwen/qwen3-32b",
  });
  validateChatRequest(body, { rejectReasoningContent: true });
});

Deno.test("request: Azure OpenAI gets its key as api-key; a query stays at the end of its URLs", () => {
  const ctx = context({
    baseUrl: "https://r.openai.azure.com/openai/deployments/gpt4o?api-version=2024-10-21",
  });
  const req = openaiProvider.buildRequest(request(), ctx, "");
  assert.equal(req.headers["api-key"], "sk-test");
  assert.equal(req.headers.authorization, undefined);
  const models = openaiProvider.modelsRequest!(context({
    baseUrl: "https://r.openai.azure.com/openai/v1?api-version=preview",
  }));
  assert.equal(models.url, "https://r.openai.azure.com/openai/v1/models?api-version=preview");
  assert.equal(models.headers!["api-key"], "sk-test");
  // Everywhere else, a bearer token.
  assert.equal(openaiProvider.buildRequest(request(), context(), "").headers["api-key"], undefined);
});

Deno.test("request: a tool-call turn to Google's OpenAI endpoint without a signature of its own carries Google's skip value; other servers get no extra_content", () => {
  const history: MessagesRequest = request({
    messages: [
      { role: "user", content: "list files" },
      {
        role: "assistant",
        content: [
          { type: "tool_use", id: "toolu_01AAA", name: "Bash", input: { command: "ls" } },
          { type: "tool_use", id: "toolu_01BBB", name: "Bash", input: { command: "pwd" } },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "toolu_01AAA", content: "a.txt" },
          { type: "tool_result", tool_use_id: "toolu_01BBB", content: "/" },
        ],
      },
    ],
  });
  // Set up as `custom` or as `openai`, Google's endpoint is Google's.
  for (const serviceType of ["custom", "openai"]) {
    const google = build(
      history,
      context({
        serviceType,
        baseUrl: "https://generativelanguage.googleapis.com/v1beta/openai/",
      }),
    );
    const calls = google.messages.find((m: { role: string }) => m.role === "assistant").tool_calls;
    assert.deepEqual(calls[0].extra_content, {
      google: { thought_signature: "skip_thought_signature_validator" },
    });
    assert.equal(calls[1].extra_content, undefined, "only a turn's first call is checked");
  }
  for (const baseUrl of ["https://api.openai.com", "http://localhost:8000/v1"]) {
    const other = build(history, context({ serviceType: "custom", baseUrl }));
    const sent = other.messages.find((m: { role: string }) => m.role === "assistant").tool_calls;
    assert.ok(sent.every((c: Record<string, unknown>) => !("extra_content" in c)), baseUrl);
  }
});

Deno.test("request: DeepSeek's API, which thinks unless told not to, is told whether the client asked for thinking; other hosts of its models get no such switch", () => {
  const deepseek = context({ serviceType: "custom", baseUrl: "https://api.deepseek.com" });
  deepseek.model = "deepseek-v4-flash";
  assert.deepEqual(build(request(), deepseek).thinking, { type: "disabled" });
  assert.deepEqual(
    build(
      request({ thinking: { type: "enabled", budget_tokens: 2048 }, max_tokens: 4096 }),
      deepseek,
    )
      .thinking,
    { type: "enabled" },
  );
  assert.deepEqual(
    build(request({ thinking: { type: "adaptive" } } as Partial<MessagesRequest>), deepseek)
      .thinking,
    { type: "enabled" },
  );
  // Set up as `openai`, DeepSeek's API is still DeepSeek's.
  const asOpenai = context({ serviceType: "openai", baseUrl: "https://api.deepseek.com" });
  asOpenai.model = "deepseek-v4-pro";
  assert.deepEqual(build(request(), asOpenai).thinking, { type: "disabled" });
  const elsewhere = context({ serviceType: "custom", baseUrl: "https://api.together.xyz/v1" });
  elsewhere.model = "deepseek-ai/DeepSeek-V4";
  assert.equal(build(request(), elsewhere).thinking, undefined);
});
