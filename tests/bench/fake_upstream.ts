// The benchmark's upstream: answers at once with prebuilt bytes, in a process of its own so its
// CPU is not counted as the proxy's. It speaks both formats, chosen by path:
//   POST /v1/chat/completions  OpenAI Chat Completions (JSON, or 64 chunks + finish + usage + DONE;
//                              a request naming EVENT_PER_WRITE gets them one write at a time)
//   POST /v1/messages          Anthropic Messages (JSON, or the same 64 text deltas as events)
// `--format openai|anthropic` only limits which of the two it accepts (default: both).
// It prints `fake upstream listening on http://127.0.0.1:<port>` once ready.

export const STREAM_CHUNKS = 64;

const encoder = new TextEncoder();
const MODEL = "gpt-bench";
const CREATED = 1767225600;
const WORDS = ["Hello", "there,", "this", "is", "a", "benchmark", "answer", "with", "words."];

/** The text of chunk `i`: a few words. */
function piece(i: number): string {
  return ` ${WORDS[i % WORDS.length]} ${WORDS[(i + 3) % WORDS.length]} ${
    WORDS[(i + 5) % WORDS.length]
  }`;
}

const FULL_TEXT = Array.from({ length: STREAM_CHUNKS }, (_, i) => piece(i)).join("").trim();

function openaiUsage() {
  return {
    prompt_tokens: 12,
    completion_tokens: STREAM_CHUNKS * 3,
    total_tokens: 12 + STREAM_CHUNKS * 3,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

function openaiChunk(delta: Record<string, unknown>, finish: string | null, usage?: unknown) {
  return `data: ${
    JSON.stringify({
      id: "chatcmpl-bench0000000000000000000001",
      object: "chat.completion.chunk",
      created: CREATED,
      model: MODEL,
      service_tier: "default",
      system_fingerprint: "fp_bench0001",
      choices: usage ? [] : [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(usage ? { usage } : {}),
    })
  }\n\n`;
}

const OPENAI_EVENT_TEXTS = [
  openaiChunk({ role: "assistant", content: "", refusal: null }, null),
  ...Array.from({ length: STREAM_CHUNKS }, (_, i) => openaiChunk({ content: piece(i) }, null)),
  openaiChunk({}, "stop"),
  openaiChunk({}, null, openaiUsage()),
  "data: [DONE]\n\n",
];
const OPENAI_EVENTS = OPENAI_EVENT_TEXTS.map((e) => encoder.encode(e));
const OPENAI_STREAM = encoder.encode(OPENAI_EVENT_TEXTS.join(""));

/** In a request, asks for the stream an event per write, as a real upstream sends it. */
export const EVENT_PER_WRITE = "an event per write";

/** The events one per write, each after the last went out (a macrotask apart), at once otherwise. */
function eventPerWrite(events: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    async pull(ctrl) {
      if (i > 0) await new Promise((r) => setTimeout(r, 0));
      if (i < events.length) ctrl.enqueue(events[i++]);
      else ctrl.close();
    },
  }, { highWaterMark: 0 });
}

const OPENAI_JSON = encoder.encode(JSON.stringify({
  id: "chatcmpl-bench0000000000000000000002",
  object: "chat.completion",
  created: CREATED,
  model: MODEL,
  choices: [{
    index: 0,
    message: { role: "assistant", content: FULL_TEXT, refusal: null, annotations: [] },
    logprobs: null,
    finish_reason: "stop",
  }],
  usage: openaiUsage(),
  service_tier: "default",
  system_fingerprint: "fp_bench0001",
}));

function anthropicEvent(type: string, data: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
}

const ANTHROPIC_MESSAGE = {
  id: "msg_bench000000000000000001",
  type: "message",
  role: "assistant",
  model: "claude-sonnet-4-5",
  content: [] as unknown[],
  stop_reason: null as string | null,
  stop_sequence: null,
  usage: { input_tokens: 12, output_tokens: 1 },
};

const ANTHROPIC_STREAM = encoder.encode(
  [
    anthropicEvent("message_start", { message: ANTHROPIC_MESSAGE }),
    anthropicEvent("content_block_start", {
      index: 0,
      content_block: { type: "text", text: "" },
    }),
    ...Array.from(
      { length: STREAM_CHUNKS },
      (_, i) =>
        anthropicEvent("content_block_delta", {
          index: 0,
          delta: { type: "text_delta", text: piece(i) },
        }),
    ),
    anthropicEvent("content_block_stop", { index: 0 }),
    anthropicEvent("message_delta", {
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { output_tokens: STREAM_CHUNKS * 3 },
    }),
    anthropicEvent("message_stop", {}),
  ].join(""),
);

const ANTHROPIC_JSON = encoder.encode(JSON.stringify({
  ...ANTHROPIC_MESSAGE,
  content: [{ type: "text", text: FULL_TEXT }],
  stop_reason: "end_turn",
  usage: { input_tokens: 12, output_tokens: STREAM_CHUNKS * 3 },
}));

const JSON_HEADERS = { "content-type": "application/json" };
const SSE_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache" };

function wantsStream(text: string): boolean {
  try {
    return (JSON.parse(text) as { stream?: unknown })?.stream === true;
  } catch {
    return false;
  }
}

export function startFakeUpstream(
  format: "openai" | "anthropic" | "both" = "both",
  onListen?: (addr: Deno.NetAddr) => void,
): Deno.HttpServer<Deno.NetAddr> {
  const openai = format !== "anthropic";
  const anthropic = format !== "openai";
  return Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: onListen ?? (() => {}),
  }, async (req) => {
    const path = new URL(req.url).pathname;
    if (req.method !== "POST") return new Response("not found", { status: 404 });
    if (openai && path.endsWith("/chat/completions")) {
      const text = await req.text();
      if (!wantsStream(text)) return new Response(OPENAI_JSON, { headers: JSON_HEADERS });
      return text.includes(EVENT_PER_WRITE)
        ? new Response(eventPerWrite(OPENAI_EVENTS), { headers: SSE_HEADERS })
        : new Response(OPENAI_STREAM, { headers: SSE_HEADERS });
    }
    if (anthropic && path.endsWith("/v1/messages")) {
      const stream = wantsStream(await req.text());
      return stream
        ? new Response(ANTHROPIC_STREAM, { headers: SSE_HEADERS })
        : new Response(ANTHROPIC_JSON, { headers: JSON_HEADERS });
    }
    return new Response(JSON.stringify({ error: { message: `no route ${path}` } }), {
      status: 404,
      headers: JSON_HEADERS,
    });
  });
}

if (import.meta.main) {
  const at = Deno.args.indexOf("--format");
  const format = at === -1 ? "both" : Deno.args[at + 1];
  if (format !== "openai" && format !== "anthropic" && format !== "both") {
    console.error("usage: fake_upstream.ts [--format openai|anthropic|both]");
    Deno.exit(2);
  }
  startFakeUpstream(format, ({ port }) => {
    console.log(`fake upstream listening on http://127.0.0.1:${port}`);
  });
}
