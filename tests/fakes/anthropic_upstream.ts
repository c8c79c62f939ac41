// A fake Anthropic Messages API on loopback: records what it receives and answers from a queue
// of scripted replies (or with a plain message), including faults: hangs, resets, slow drips.
// deno-lint-ignore-file no-explicit-any

export interface RecordedRequest {
  path: string;
  headers: Headers;
  body: any;
  raw: string;
  /** Stream chunks written so far (they stop when the proxy aborts the upstream request). */
  chunksSent: number;
}

export type FakeReply =
  | {
    status: number;
    json?: unknown;
    /** The body as it is, its length said (bytes where a test needs bytes no text has). */
    text?: string | Uint8Array<ArrayBuffer>;
    headers?: Record<string, string>;
  }
  | {
    /** Text, or bytes where a test cuts inside a character. */
    sse: (string | Uint8Array)[];
    delayMs?: number;
    headers?: Record<string, string>;
    thenHang?: boolean;
  }
  | { hang: true }
  | { resetAfterChunks: number; sse: string[]; delayMs?: number };

export interface FakeUpstream {
  url: string;
  requests: RecordedRequest[];
  enqueue(...replies: FakeReply[]): void;
  close(): Promise<void>;
}

/**
 * A whole answer with every field the real API sends, the unused ones as it sends them (null,
 * zeros, "standard", "not_available"): what the SDK's `Message` and `Usage` types declare, with the
 * values seen in captured answers.
 */
export function anthropicMessage(
  text: string,
  model = "claude-test",
  content: unknown[] = [{ type: "text", text }],
): Record<string, unknown> {
  return {
    id: "msg_fake01",
    type: "message",
    role: "assistant",
    model,
    content,
    stop_reason: content.some((b) => (b as { type: string }).type === "tool_use")
      ? "tool_use"
      : "end_turn",
    stop_sequence: null,
    stop_details: null,
    container: null,
    usage: {
      input_tokens: 12,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
      output_tokens: 5,
      output_tokens_details: { thinking_tokens: 0 },
      server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 },
      service_tier: "standard",
      inference_geo: "not_available",
      speed: "standard",
    },
    diagnostics: null,
  };
}

/** A tool call as Anthropic answers it, whole. */
export function anthropicToolMessage(id: string, name: string, input: unknown) {
  return anthropicMessage("", "claude-test", [
    { type: "tool_use", id, name, input, caller: { type: "direct" } },
  ]);
}

const frame = (event: string, data: unknown) =>
  `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

function messageStartFrame(model: string): string {
  const msg = anthropicMessage("", model, []);
  return frame("message_start", {
    type: "message_start",
    message: {
      ...msg,
      stop_reason: null,
      usage: {
        ...msg.usage as Record<string, unknown>,
        output_tokens: 1,
        output_tokens_details: null,
        server_tool_use: null,
      },
    },
  });
}

/** message_delta with the cumulative usage, then message_stop. */
function endFrames(stopReason: string): string[] {
  return [
    frame("message_delta", {
      type: "message_delta",
      delta: { stop_reason: stopReason, stop_sequence: null, stop_details: null, container: null },
      usage: {
        input_tokens: 12,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        output_tokens: 5,
        output_tokens_details: { thinking_tokens: 0 },
        server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 },
      },
    }),
    frame("message_stop", { type: "message_stop" }),
  ];
}

/** The SSE frames of a streamed text answer, in Anthropic's exact order. */
export function anthropicStream(text: string, model = "claude-test"): string[] {
  return [
    messageStartFrame(model),
    frame("content_block_start", {
      type: "content_block_start",
      index: 0,
      content_block: { type: "text", text: "" },
    }),
    frame("ping", { type: "ping" }),
    ...text.split(/(?<= )/).map((piece) =>
      frame("content_block_delta", {
        type: "content_block_delta",
        index: 0,
        delta: { type: "text_delta", text: piece },
      })
    ),
    frame("content_block_stop", { type: "content_block_stop", index: 0 }),
    ...endFrames("end_turn"),
  ];
}

/** The SSE frames of a streamed tool call: its arguments come as input_json_delta fragments. */
export function anthropicToolStream(id: string, name: string, input: unknown): string[] {
  return [
    messageStartFrame("claude-test"),
    frame("content_block_start", {
      type: "content_block_start",
      index: 0,
      content_block: { type: "tool_use", id, name, input: {}, caller: { type: "direct" } },
    }),
    frame("content_block_delta", {
      type: "content_block_delta",
      index: 0,
      delta: { type: "input_json_delta", partial_json: "" },
    }),
    frame("content_block_delta", {
      type: "content_block_delta",
      index: 0,
      delta: { type: "input_json_delta", partial_json: JSON.stringify(input) },
    }),
    frame("content_block_stop", { type: "content_block_stop", index: 0 }),
    ...endFrames("tool_use"),
  ];
}

/**
 * An error after the 200, as Anthropic writes it into a stream: the error body, with `details` and
 * the request's id (captured: `{"type":"error","error":{"details":null,"type":"overloaded_error",
 * "message":"Overloaded"},"request_id":"req_…"}`).
 */
export function anthropicStreamError(type = "overloaded_error", message = "Overloaded"): string {
  return frame("error", {
    type: "error",
    error: { details: null, type, message },
    request_id: "req_011CfakeUpstream0000000",
  });
}

/** One page of the model list, after `after_id` (or before `before_id`), `limit` long. */
function modelsPage(models: Array<{ id: string }>, query: URLSearchParams): Response {
  const limit = Number(query.get("limit") ?? 20);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    return Response.json({
      type: "error",
      error: {
        type: "invalid_request_error",
        message: "limit: Input should be between 1 and 1000",
      },
    }, { status: 400 });
  }
  const after = query.get("after_id");
  const before = query.get("before_id");
  let start = 0;
  let end = models.length;
  if (after) start = models.findIndex((m) => m.id === after) + 1;
  if (before) end = Math.max(0, models.findIndex((m) => m.id === before));
  const data = before
    ? models.slice(Math.max(0, end - limit), end)
    : models.slice(start, start + limit);
  const has_more = before ? end - limit > 0 : start + limit < models.length;
  return Response.json({
    data,
    has_more,
    first_id: data[0]?.id ?? null,
    last_id: data[data.length - 1]?.id ?? null,
  });
}

type Blocks = Array<{ type?: string; signature?: unknown; thinking?: unknown }>;

/** Anthropic's refusal of the thinking a history holds, in its words, or undefined. */
function thinkingRefusal(body: Record<string, unknown>, signedBy: string): string | undefined {
  const messages = (body.messages ?? []) as Array<{ role: string; content: string | Blocks }>;
  const lastAssistant = messages.findLastIndex((m) => m.role === "assistant");
  for (const [i, m] of messages.entries()) {
    if (m.role !== "assistant" || typeof m.content === "string") continue;
    for (const [j, b] of m.content.entries()) {
      if (b.type !== "thinking") continue;
      if (typeof b.signature !== "string") {
        return `messages.${i}.content.${j}.thinking.signature: Field required`;
      }
      if (!b.signature.startsWith(signedBy)) {
        return `messages.${i}.content.${j}: Invalid \`signature\` in \`thinking\` block`;
      }
      // A signature `<signedBy>text:<thinking>` binds its text: the last turn's may not change.
      const bound = b.signature.startsWith(`${signedBy}text:`)
        ? b.signature.slice(signedBy.length + 5)
        : undefined;
      if (i === lastAssistant && bound !== undefined && bound !== b.thinking) {
        return `messages.${i}.content.${j}: \`thinking\` or \`redacted_thinking\` blocks in the latest assistant message cannot be modified. These blocks must remain as they were in the original response.`;
      }
    }
  }
  const on = ["enabled", "adaptive"].includes((body.thinking as { type?: string })?.type ?? "");
  const edits = (body.context_management as { edits?: Array<{ type?: string }> })?.edits ?? [];
  const clearing = edits.findIndex((e) => e.type?.startsWith("clear_thinking"));
  if (!on && clearing !== -1) {
    return `context_management.edits.${clearing}: \`${
      edits[clearing].type
    }\` strategy requires \`thinking\` to be enabled or adaptive`;
  }
  // The messages after the last assistant turn are one user turn to the API.
  let at = messages.length - 1;
  let answersTool = false;
  for (; at >= 0 && messages[at].role !== "assistant"; at--) {
    const content = messages[at].content;
    if (Array.isArray(content) && content.some((b) => b.type === "tool_result")) answersTool = true;
  }
  const turn = messages[at];
  if (on && answersTool && turn && Array.isArray(turn.content)) {
    const first = turn.content[0]?.type;
    if (first !== "thinking" && first !== "redacted_thinking") {
      return `messages.${at}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${first}\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block (preceeding the lastmost set of \`tool_use\` and \`tool_result\` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable \`thinking\`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking`;
    }
  }
  return undefined;
}

/** The first of the fields named that the body holds, refused as an older Anthropic schema does. */
function unknownFieldRefusal(body: any, fields: string[]): string | undefined {
  const extra = (path: string) => `${path}: Extra inputs are not permitted`;
  const knows = (field: string) => !fields.includes(field);
  if (!body || typeof body !== "object") return undefined;
  for (const field of ["context_management", "output_config"]) {
    if (!knows(field) && field in body) return extra(field);
  }
  if (!knows("adaptive") && body.thinking?.type === "adaptive") {
    // pydantic's words for a tagged union that predates adaptive thinking.
    return "thinking: Input tag 'adaptive' found using 'type' does not match any of the expected tags: 'disabled', 'enabled'";
  }
  if (!knows("display") && body.thinking && "display" in body.thinking) {
    return extra(`thinking.${body.thinking.type}.display`);
  }
  const tools = Array.isArray(body.tools) ? body.tools : [];
  for (const [i, tool] of tools.entries()) {
    if (!knows("defer_loading") && "defer_loading" in tool) {
      return extra(`tools.${i}.${tool.type ? tool.type : "custom"}.defer_loading`);
    }
  }
  const messages = Array.isArray(body.messages) ? body.messages : [];
  if (!knows("system-role")) {
    const at = messages.findIndex((m: any) => m?.role === "system");
    if (at !== -1) return `messages.${at}.role: Input should be 'user' or 'assistant'`;
  }
  for (const [i, message] of messages.entries()) {
    if (!knows("output_config") && "output_config" in message) {
      return extra(`messages.${i}.output_config`);
    }
    if (!Array.isArray(message.content)) continue;
    for (const [j, block] of message.content.entries()) {
      if (!knows("caller") && block?.type === "tool_use" && "caller" in block) {
        return extra(`messages.${i}.content.${j}.tool_use.caller`);
      }
      if (knows("defer_loading") || block?.type !== "tool_result") continue;
      const inner = Array.isArray(block.content) ? block.content : [];
      const k = inner.findIndex((b: any) => b?.type === "tool_reference");
      if (k !== -1) {
        return `messages.${i}.content.${j}.tool_result.content.${k}: Input tag 'tool_reference' found using 'type' does not match any of the expected tags: 'text', 'image', 'search_result', 'document'`;
      }
    }
  }
  return undefined;
}

/** The flags Bedrock's Claude models take, as its documentation lists them. */
const BEDROCK_BETAS = [
  "computer-use-2025-01-24",
  "token-efficient-tools-2025-02-19",
  "interleaved-thinking-2025-05-14",
  "output-128k-2025-02-19",
  "context-1m-2025-08-07",
  "context-management-2025-06-27",
  "effort-2025-11-24",
];

export function startFakeAnthropic(
  options: {
    requireKey?: string[];
    /**
     * Beta flags refused with a 400 as Anthropic words it; "bedrock": any flag Bedrock does not
     * take, with its 400 that names none; "all": every flag, so.
     */
    refuseBetas?: string[] | "bedrock" | "all";
    /** The ids `GET /v1/models` lists, paginated as Anthropic does (20 a page unless `limit`). */
    modelIds?: string[];
    /** Bodies for the next count_tokens answers, as sent (then `{"input_tokens":4242}`). */
    countBodies?: string[];
    /**
     * Thinking in the history is checked as Anthropic checks it: signatures not starting with
     * this (another server's) are refused, and so is a tool loop's turn without its thinking.
     */
    signaturesFrom?: string;
    /**
     * Newer fields it refuses as unknown, as Vertex and gateways validating against an older
     * schema do, one refusal at a time: `context_management`, `output_config` (top level and in a
     * message), `display` (thinking), `defer_loading` (tools; `tool_reference` blocks too), `caller`
     * (tool_use blocks in the history).
     */
    unknownFields?: string[];
    /**
     * Kimi For Coding: a user-agent that is no coding agent it knows is refused with its 403,
     * whatever the key.
     */
    codingAgentsOnly?: boolean;
  } = {},
): Promise<FakeUpstream> {
  const models = (options.modelIds ?? ["claude-upstream-1"]).map((id, i) => ({
    type: "model",
    id,
    display_name: i === 0 ? "Upstream 1" : id,
    created_at: "2025-01-01T00:00:00Z",
  }));
  const requests: RecordedRequest[] = [];
  const queue: FakeReply[] = [];
  const hanging = new Set<() => void>();
  const encoder = new TextEncoder();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const raw = req.method === "POST" ? await req.text() : "";
    let body: unknown = undefined;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch { /* recorded as raw only */ }
    const record: RecordedRequest = {
      path: url.pathname + url.search,
      headers: req.headers,
      body,
      raw,
      chunksSent: 0,
    };
    requests.push(record);
    const key = req.headers.get("x-api-key") ?? "";
    if (
      options.codingAgentsOnly &&
      !/^(?:claude-cli|KimiCLI|RooCode|Kilo-Code)\//.test(req.headers.get("user-agent") ?? "")
    ) {
      return Response.json({
        error: {
          message:
            "Kimi For Coding is currently only available for Coding Agents such as Kimi CLI, Claude Code, Roo Code, Kilo Code, etc.",
          type: "access_terminated_error",
        },
      }, { status: 403 });
    }
    if (options.requireKey && !options.requireKey.includes(key)) {
      return Response.json({
        type: "error",
        error: { type: "authentication_error", message: "invalid x-api-key" },
      }, { status: 401 });
    }
    const betas = (req.headers.get("anthropic-beta") ?? "").split(",").map((f) => f.trim())
      .filter(Boolean);
    const unnamed = options.refuseBetas === "all"
      ? betas
      : options.refuseBetas === "bedrock"
      ? betas.filter((f) => !BEDROCK_BETAS.includes(f))
      : [];
    if (unnamed.length) {
      return Response.json({ message: "invalid beta flag" }, { status: 400 });
    }
    const refused = Array.isArray(options.refuseBetas)
      ? betas.filter((f) => options.refuseBetas!.includes(f))
      : [];
    if (refused.length) {
      return Response.json({
        type: "error",
        error: {
          type: "invalid_request_error",
          message: `Unexpected value(s) ${
            refused.map((f) => `\`${f}\``).join(", ")
          } for the \`anthropic-beta\` header. Please consult our documentation at docs.anthropic.com or try again without the header.`,
        },
      }, { status: 400 });
    }
    const thinking = (body as { thinking?: { type?: string; budget_tokens?: number } })?.thinking;
    const maxTokens = (body as { max_tokens?: number })?.max_tokens ?? 0;
    if (
      url.pathname === "/v1/messages" && thinking?.type === "enabled" &&
      !((thinking.budget_tokens ?? 0) < maxTokens && (thinking.budget_tokens ?? 0) >= 1024)
    ) {
      return Response.json({
        type: "error",
        error: {
          type: "invalid_request_error",
          message: (thinking.budget_tokens ?? 0) < 1024
            ? "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
            : "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size",
        },
      }, { status: 400 });
    }
    const unknown = options.unknownFields && url.pathname.startsWith("/v1/messages")
      ? unknownFieldRefusal(body, options.unknownFields)
      : undefined;
    if (unknown) {
      return Response.json({
        type: "error",
        error: { type: "invalid_request_error", message: unknown },
      }, { status: 400 });
    }
    const thinkingRefused = options.signaturesFrom !== undefined && url.pathname === "/v1/messages"
      ? thinkingRefusal(body as Record<string, unknown>, options.signaturesFrom)
      : undefined;
    if (thinkingRefused) {
      return Response.json({
        type: "error",
        error: { type: "invalid_request_error", message: thinkingRefused },
      }, { status: 400 });
    }
    if (url.pathname === "/v1/models") return modelsPage(models, url.searchParams);
    if (url.pathname.startsWith("/v1/models/")) {
      const id = decodeURIComponent(url.pathname.slice("/v1/models/".length));
      const model = models.find((m) => m.id === id);
      return model ? Response.json(model) : Response.json({
        type: "error",
        error: { type: "not_found_error", message: `model: ${id}` },
      }, { status: 404 });
    }
    if (url.pathname === "/v1/messages/count_tokens") {
      const scripted = options.countBodies?.shift();
      const headers = {
        "content-type": "application/json",
        "request-id": "req_fake_count",
        "anthropic-ratelimit-requests-remaining": "99",
      };
      return new Response(scripted ?? JSON.stringify({ input_tokens: 4242 }), { headers });
    }
    const reply = queue.shift() ??
      (body && (body as { stream?: boolean }).stream
        ? { sse: anthropicStream("Hello from fake Anthropic") }
        : { status: 200, json: anthropicMessage("Hello from fake Anthropic") });
    if ("hang" in reply) {
      return await new Promise<Response>((resolve) => {
        const done = () => resolve(new Response("closed", { status: 503 }));
        hanging.add(done);
        req.signal.addEventListener("abort", () => {
          hanging.delete(done);
          done();
        });
      });
    }
    if ("status" in reply) {
      // No body, as HTTP has it, and so no type.
      if (reply.status === 204) return new Response(null, { status: 204, headers: reply.headers });
      const headers = { "content-type": "application/json", ...reply.headers };
      return new Response(reply.text ?? JSON.stringify(reply.json ?? {}), {
        status: reply.status,
        headers,
      });
    }
    const chunks = reply.sse;
    const resetAfter = "resetAfterChunks" in reply ? reply.resetAfterChunks : undefined;
    // A reset needs the earlier chunks on the wire first: an errored stream drops what it queued.
    const delayMs = reply.delayMs ?? (resetAfter !== undefined ? 20 : 0);
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      cancel() {
        cancelled = true;
      },
      async start(ctrl) {
        for (let i = 0; i < chunks.length; i++) {
          if (resetAfter !== undefined && i >= resetAfter) {
            await new Promise((r) => setTimeout(r, 50));
            ctrl.error(new Error("connection reset by fake"));
            return;
          }
          if (delayMs && i > 0) await new Promise((r) => setTimeout(r, delayMs));
          if (cancelled || req.signal.aborted) return;
          try {
            const chunk = chunks[i];
            ctrl.enqueue(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
            record.chunksSent++;
          } catch {
            return;
          }
        }
        if (resetAfter !== undefined) {
          ctrl.error(new Error("connection reset by fake"));
          return;
        }
        if ("thenHang" in reply && reply.thenHang) {
          // Silent but open, until the client goes away or the fake closes.
          await new Promise<void>((resolve) => {
            hanging.add(resolve);
            req.signal.addEventListener("abort", () => resolve());
          });
          try {
            ctrl.close();
          } catch { /* already cancelled */ }
          return;
        }
        ctrl.close();
      },
    });
    return new Response(stream, {
      headers: {
        "content-type": "text/event-stream",
        ...("headers" in reply ? reply.headers : {}),
      },
    });
  });
  return Promise.resolve({
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    enqueue: (...replies) => queue.push(...replies),
    async close() {
      for (const done of hanging) done();
      await server.shutdown();
    },
  });
}
