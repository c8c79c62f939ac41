// The real Claude Code CLI through the proxy to each kind of upstream: a plain answer, and a
// Bash tool round trip whose result reaches the model.
import assert from "node:assert/strict";
import { CLAUDE_BIN, claudeSession, runClaude } from "./helpers/claude_code.ts";
import { ACCESS_KEY, startTestServer } from "./helpers/server.ts";
import {
  anthropicStream,
  anthropicToolStream,
  startFakeAnthropic,
} from "./fakes/anthropic_upstream.ts";
import { openaiChunk, startFakeOpenAI } from "./fakes/openai_upstream.ts";
import { startFakeGemini } from "./fakes/gemini_upstream.ts";

const ignore = !CLAUDE_BIN;
if (ignore) console.warn("Claude Code CLI not found (set CLAUDE_BIN or run .ci/run): skipping");

Deno.test({
  name: "claude code: a plain answer through the Anthropic passthrough",
  ignore,
  async fn() {
    const fake = await startFakeAnthropic();
    const server = await startTestServer({
      config: {
        upstream: [{
          name: "a",
          baseUrl: fake.url,
          serviceType: "anthropic",
          apiKeys: ["sk-cc-ant-1"],
        }],
      },
    });
    try {
      const run = await runClaude(server.url, "say hi");
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.equal(run.result.is_error, false);
      assert.match(run.result.result, /Hello from fake Anthropic/);
      const main = fake.requests.find((r) => r.path.startsWith("/v1/messages"));
      assert.ok(main, "Claude Code's request reached the upstream");
      assert.equal(main.headers.get("x-api-key"), "sk-cc-ant-1");
      assert.ok(main.body.tools.length > 10);
    } finally {
      await server.close();
      await fake.close();
    }
  },
});

Deno.test({
  name:
    "claude code: through an Anthropic-compatible upstream that refuses its newer fields (as Vertex does), a session that loads a tool works",
  ignore,
  async fn() {
    const fake = await startFakeAnthropic({
      // Vertex refuses the flags it does not know too (those of both versions, among others).
      refuseBetas: [
        "advanced-tool-use-2025-11-20",
        "context-management-2025-06-27",
        "per-turn-control-2026-07-01",
        "prompt-caching-scope-2026-01-05",
      ],
      unknownFields: ["context_management", "output_config", "display", "defer_loading", "caller"],
    });
    const server = await startTestServer({
      config: {
        upstream: [{ name: "v", baseUrl: fake.url, serviceType: "anthropic", apiKeys: ["sk-v"] }],
      },
    });
    try {
      fake.enqueue({
        sse: anthropicToolStream("toolu_cc_search", "ToolSearch", { query: "select:CronList" }),
      });
      fake.enqueue({ sse: anthropicStream("CronList is loaded.") });
      const run = await runClaude(server.url, "load the CronList tool", [
        "--allowedTools",
        "ToolSearch",
      ]);
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.equal(run.result.is_error, false, run.result.result);
      assert.match(run.result.result, /CronList is loaded/);
      // The last request, answered, holds the whole session: none of the refused fields is left.
      const last = fake.requests.at(-1)!.raw;
      assert.doesNotMatch(last, /"context_management"|"defer_loading"|"caller"|"tool_reference"/);
      assert.doesNotMatch(fake.requests.at(-1)!.headers.get("anthropic-beta") ?? "", /advanced/);
      // Claude Code 2.1.3xx runs ToolSearch itself: its tool_reference reaches the model as text.
      if (JSON.parse(last).tools.some((t: { name: string }) => t.name === "ToolSearch")) {
        assert.match(last, /Tool loaded: CronList/);
      }
    } finally {
      await server.close();
      await fake.close();
    }
  },
});

/** A plain answer, then a Bash tool round trip whose output must come back through the model. */
async function plainAndBash(
  fake: { url: string; close(): Promise<void> },
  upstream: { serviceType: string; apiKeys: string[]; models: Record<string, string> },
  greeting: RegExp,
): Promise<void> {
  const server = await startTestServer({
    config: { upstream: [{ name: "up", baseUrl: fake.url, ...upstream }] },
  });
  try {
    const plain = await runClaude(server.url, "say hi");
    assert.equal(plain.code, 0, plain.stdout + plain.stderr);
    assert.match(plain.result.result, greeting);

    const marker = `proxied-${crypto.randomUUID().slice(0, 8)}`;
    const run = await runClaude(
      server.url,
      `use tool Bash with {"command":"echo ${marker}","description":"print a marker"}`,
      ["--allowedTools", "Bash"],
    );
    assert.equal(run.code, 0, run.stdout + run.stderr);
    // The fakes answer a tool result with its text: the command really ran and came back.
    assert.match(run.result.result, new RegExp(`Tool result received: .*${marker}`));
  } finally {
    await server.close();
    await fake.close();
  }
}

Deno.test({
  name: "claude code: a plain answer and a Bash round trip through an OpenAI upstream",
  ignore,
  async fn() {
    const fake = await startFakeOpenAI();
    await plainAndBash(fake, {
      serviceType: "openai",
      apiKeys: ["sk-cc-openai-1"],
      models: { default: "gpt-4o" },
    }, /Hello from fake OpenAI/);
    const last = fake.requests[fake.requests.length - 1].body;
    const toolMsg = last.messages.find((m: { role: string }) => m.role === "tool");
    assert.match(toolMsg.content, /proxied-/);
  },
});

Deno.test({
  name: "claude code: a plain answer and a Bash round trip through Gemini (thinking model)",
  ignore,
  async fn() {
    const fake = await startFakeGemini({ thinkingModel: true });
    await plainAndBash(fake, {
      serviceType: "gemini",
      apiKeys: ["AIzaClaudeCodeGeminiKey000000000000000"],
      models: { default: "gemini-2.5-pro" },
    }, /Hello from fake Gemini/);
  },
});

Deno.test({
  name: "claude code: its WebSearch tool runs as Gemini's Google Search and lists the pages found",
  ignore,
  async fn() {
    const fake = await startFakeGemini();
    const server = await startTestServer({
      config: {
        upstream: [{
          name: "up",
          baseUrl: fake.url,
          serviceType: "gemini",
          apiKeys: ["AIzaClaudeCodeGeminiKey000000000000000"],
          models: { default: "gemini-2.5-flash" },
        }],
      },
    });
    try {
      const run = await runClaude(
        server.url,
        `use tool WebSearch with {"query":"euro 2024 winner"}`,
        ["--allowedTools", "WebSearch"],
      );
      assert.equal(run.code, 0, run.stdout + run.stderr);
      // The tool's output, as Claude Code wrote it from the search blocks, reached the model.
      assert.match(run.result.result, /Web search results for query: .*euro 2024 winner/);
      assert.match(run.result.result, /Two pages answer this/);
      assert.match(run.result.result, /example1\.com/);
      const search = fake.requests.find((r) => r.body.tools?.[0]?.googleSearch);
      assert.ok(search, "the search went to Gemini as googleSearch");
    } finally {
      await server.close();
      await fake.close();
    }
  },
});

Deno.test({
  name:
    "claude code: an OpenAI stream that breaks mid-answer is recovered by its non-streaming retry",
  ignore,
  async fn() {
    const fake = await startFakeOpenAI();
    fake.enqueue({
      resetAfterChunks: 2,
      sse: [
        openaiChunk({ role: "assistant", content: "" }),
        openaiChunk({ content: "Half an ans" }),
        openaiChunk({ content: "wer" }),
      ],
    });
    const server = await startTestServer({
      config: {
        upstream: [{
          name: "up",
          baseUrl: fake.url,
          serviceType: "openai",
          apiKeys: ["sk-cc-openai-1"],
          models: { default: "gpt-4o" },
        }],
      },
    });
    try {
      const run = await runClaude(server.url, "say hi");
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.match(run.result.result, /Hello from fake OpenAI/);
      const [broken, again] = fake.requests.filter((r) => r.path.endsWith("/chat/completions"));
      assert.equal(broken.body.stream, true);
      assert.notEqual(again?.body.stream, true, "Claude Code asked again without streaming");
    } finally {
      await server.close();
      await fake.close();
    }
  },
});

Deno.test({
  name:
    "claude code: the proxy key as ANTHROPIC_AUTH_TOKEN works beside another ANTHROPIC_API_KEY in the environment",
  ignore,
  async fn() {
    const fake = await startFakeAnthropic();
    const server = await startTestServer({
      config: {
        upstream: [{
          name: "a",
          baseUrl: fake.url,
          serviceType: "anthropic",
          apiKeys: ["sk-cc-ant-1"],
        }],
      },
    });
    try {
      // A key exported for other tools stays in the shell; Claude Code then sends both headers.
      const run = await runClaude(server.url, "say hi", [], {
        ANTHROPIC_API_KEY: "sk-ant-api03-a-key-for-something-else",
        ANTHROPIC_AUTH_TOKEN: ACCESS_KEY,
      });
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.match(run.result.result, /Hello from fake Anthropic/);
    } finally {
      await server.close();
      await fake.close();
    }
  },
});

Deno.test({
  name:
    "claude code: through vLLM with a window smaller than its max_tokens, a session works and is compacted when it outgrows the window",
  ignore,
  async fn() {
    // Qwen3-32B's window: Claude Code's 64000 output tokens leave its prompt no room.
    const fake = await startFakeOpenAI({ strictTemplate: true, contextWindow: 40_960 });
    const server = await startTestServer({
      config: {
        upstream: [{
          name: "vllm",
          baseUrl: fake.url,
          serviceType: "custom",
          apiKeys: [],
          models: { default: "Qwen/Qwen3-32B" },
        }],
      },
    });
    const session = await claudeSession(server.url);
    try {
      // A file of 600 lines is about 13k tokens (22 a line as Read gives it): the first fits
      // beside Claude Code's own 12-19k (it depends on the version); the second takes the prompt
      // 2.5k tokens past the window, as the fake counts them, so that its compaction still fits.
      let lines = 600;
      const read = async (name: string, args: string[]) => {
        const path = `${session.cwd}/${name}`;
        const text = Array.from(
          { length: lines },
          (_, i) => `line ${i} ${"lorem ipsum dolor ".repeat(4)}`,
        );
        await Deno.writeTextFile(path, text.join("\n"));
        return await session.run(
          `use tool Read with {"file_path":"${path}"}`,
          ["--allowedTools", "Read", ...args],
        );
      };
      const first = await read("a.txt", []);
      assert.equal(first.code, 0, first.stdout + first.stderr);
      assert.match(first.result.result, /Tool result received: .*line 0/);
      // Claude Code's own max_tokens (64000 up to 2.1.2xx, 128000 since), refused, then retried
      // within the window.
      assert.ok(fake.requests[0].body.max_tokens >= 64_000, "refused, then retried within");

      const last = fake.requests.at(-1)!.body;
      const used = Math.ceil(JSON.stringify([last.messages, last.tools ?? null]).length / 4);
      lines = Math.ceil((40_960 + 2_500 - used) / 22);
      const second = await read("b.txt", ["--continue"]);
      assert.equal(second.code, 0, second.stdout + second.stderr);
      assert.equal(second.result.is_error, false);
      const summarised = fake.requests.some((r) =>
        /do not call any tools/i.test(JSON.stringify(r.body.messages.at(-1)))
      );
      assert.ok(summarised, "Claude Code compacted the conversation");
    } finally {
      await session.close();
      await server.close();
      await fake.close();
    }
  },
});
