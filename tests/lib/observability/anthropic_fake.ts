// A tiny Anthropic-compatible upstream on 127.0.0.1 for the observability tests: answers
// /v1/messages with scripted replies, as JSON or (when the request asks) as an SSE stream.

export interface FakeReply {
  status?: number;
  json: unknown;
}

export interface AnthropicFake {
  url: string;
  requests: Array<{ apiKey: string | null; body: string }>;
  /** Replies used in order; when none is left, the fallback answers. */
  enqueue(...replies: FakeReply[]): void;
  close(): Promise<void>;
}

export function messageReply(
  text: string,
  usage: Record<string, number> = { input_tokens: 12, output_tokens: 7 },
  model = "claude-fake",
): FakeReply {
  return {
    json: {
      id: "msg_fake0123",
      type: "message",
      role: "assistant",
      model,
      content: [{ type: "text", text }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage,
    },
  };
}

export function errorReply(status: number, type: string, message: string): FakeReply {
  return { status, json: { type: "error", error: { type, message } } };
}

/** The message of a 200 reply as Anthropic streams it. */
function streamOf(msg: {
  content: Array<{ text: string }>;
  usage: Record<string, number>;
  stop_reason: string;
}): string {
  const { output_tokens, ...startUsage } = msg.usage;
  const frame = (event: string, data: unknown) =>
    `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
  return [
    frame("message_start", {
      type: "message_start",
      message: {
        ...msg,
        content: [],
        stop_reason: null,
        usage: { ...startUsage, output_tokens: 1 },
      },
    }),
    frame("content_block_start", {
      type: "content_block_start",
      index: 0,
      content_block: { type: "text", text: "" },
    }),
    // A few characters at a time, as models stream: a secret echoed back is never in one event.
    ...(msg.content[0].text.match(/[\s\S]{1,5}/g) ?? []).map((text) =>
      frame("content_block_delta", {
        type: "content_block_delta",
        index: 0,
        delta: { type: "text_delta", text },
      })
    ),
    frame("content_block_stop", { type: "content_block_stop", index: 0 }),
    frame("message_delta", {
      type: "message_delta",
      delta: { stop_reason: msg.stop_reason, stop_sequence: null },
      usage: { output_tokens },
    }),
    frame("message_stop", { type: "message_stop" }),
  ].join("");
}

export function startAnthropicFake(
  fallback: (body: string, apiKey: string | null) => FakeReply = () => messageReply("ok"),
): AnthropicFake {
  const queue: FakeReply[] = [];
  const requests: AnthropicFake["requests"] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = await req.text();
    if (new URL(req.url).pathname !== "/v1/messages") {
      return new Response("not found", { status: 404 });
    }
    const apiKey = req.headers.get("x-api-key");
    requests.push({ apiKey, body });
    const reply = queue.shift() ?? fallback(body, apiKey);
    const status = reply.status ?? 200;
    if (status === 200 && JSON.parse(body).stream === true) {
      return new Response(streamOf(reply.json as Parameters<typeof streamOf>[0]), {
        headers: { "content-type": "text/event-stream" },
      });
    }
    return new Response(JSON.stringify(reply.json), {
      status,
      headers: { "content-type": "application/json" },
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    enqueue: (...replies) => queue.push(...replies),
    close: () => server.shutdown(),
  };
}
