// deno-lint-ignore-file no-explicit-any
// Requests, call contexts and answers for driving the OpenAI provider in tests.
import type { MessagesRequest } from "../../lib/anthropic.ts";
import { openaiProvider } from "../../lib/providers/openai.ts";
import type { CallContext, UpstreamConfig } from "../../lib/providers/types.ts";
import { claudeCodeFixtures } from "./fixtures.ts";
import { upstreamJson } from "./upstream_body.ts";

const FIXTURES = new URL("../fixtures/openai/", import.meta.url);

export const LONG_TOOL = "mcp__github-enterprise-server__search_code_in_repository_with_filters_v2";

export const DIRECT = { type: "direct" };

export function context(
  upstream: Partial<UpstreamConfig> = {},
  stream = true,
): CallContext {
  return {
    upstream: {
      name: "test",
      baseUrl: "https://api.openai.com",
      serviceType: "openai",
      apiKeys: ["sk-test"],
      ...upstream,
    },
    model: "gpt-4.1",
    requestedModel: "claude-sonnet-4-5",
    apiKey: "sk-test",
    stream,
    clientHeaders: new Headers(),
  };
}

export function request(extra: Partial<MessagesRequest> = {}): MessagesRequest {
  return {
    model: "claude-sonnet-4-5",
    max_tokens: 1024,
    messages: [{ role: "user", content: "hi" }],
    ...extra,
  };
}

export function build(body: MessagesRequest, ctx = context()): any {
  const req = openaiProvider.buildRequest(body, ctx, JSON.stringify(body));
  return upstreamJson(req);
}

export function fixture(name: string): string {
  return Deno.readTextFileSync(new URL(name, FIXTURES));
}

export function completion(message: any, finish: string) {
  return {
    id: "chatcmpl-x",
    object: "chat.completion",
    created: 1,
    model: "gpt-4.1",
    choices: [{ index: 0, message: { role: "assistant", ...message }, finish_reason: finish }],
    usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 },
  };
}

export function claudeCodeRequests(): [string, MessagesRequest][] {
  return claudeCodeFixtures()
    .filter((f) => Array.isArray(f.body.messages))
    .map((f) => [f.name, f.body as unknown as MessagesRequest]);
}
