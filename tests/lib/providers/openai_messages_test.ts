// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import type { MessagesRequest } from "../../../lib/anthropic.ts";
import { validateChatRequest } from "../../fakes/openai_upstream.ts";
import { HAVE_CLAUDE_CODE_FIXTURES } from "../../helpers/fixtures.ts";
import { build, claudeCodeRequests, context, request } from "../../helpers/openai_calls.ts";

Deno.test("request: system blocks without the billing header; inline system messages keep their place", () => {
  const body = build(request({
    system: [
      { type: "text", text: "x-anthropic-billing-header: cc_version=2.1.197.7d5; cch=ab12c;" },
      { type: "text", text: "You are helpful.", cache_control: { type: "ephemeral" } },
      { type: "text", text: "" },
      { type: "text", text: "Be brief." },
    ],
    messages: [
      { role: "user", content: "one" },
      { role: "system", content: "Agents available: claude" },
      { role: "assistant", content: [{ type: "text", text: "" }, { type: "text", text: "two" }] },
      { role: "user", content: [{ type: "text", text: "three" }, { type: "text", text: "" }] },
    ],
  }));
  assert.deepEqual(body.messages, [
    { role: "system", content: "You are helpful.\nBe brief." },
    { role: "user", content: "one" },
    { role: "system", content: "Agents available: claude" },
    { role: "assistant", content: "two" },
    { role: "user", content: "three" },
  ]);
});

Deno.test("request: a system prompt behind the billing line keeps its text, as on Gemini", () => {
  const header = "x-anthropic-billing-header: cc_version=1; cch=abcde;";
  for (
    const system of [`${header}\nBe brief.`, [{
      type: "text" as const,
      text: `${header}\nBe brief.`,
    }]]
  ) {
    const body = build(request({ system, messages: [{ role: "user", content: "hi" }] }));
    assert.deepEqual(body.messages[0], { role: "system", content: "Be brief." });
  }
});

Deno.test("request: images and documents become image_url, file and text parts", () => {
  const body = build(request({
    messages: [{
      role: "user",
      content: [
        { type: "text", text: "Look" },
        { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBOR" } },
        { type: "image", source: { type: "url", url: "https://x.test/a.jpg" } },
        {
          type: "document",
          title: "spec.pdf",
          source: { type: "base64", media_type: "application/pdf", data: "JVBERi0" },
        },
        { type: "document", source: { type: "text", media_type: "text/plain", data: "plain doc" } },
      ],
    }],
  }));
  assert.deepEqual(body.messages[0].content, [
    { type: "text", text: "Look" },
    { type: "image_url", image_url: { url: "data:image/png;base64,iVBOR" } },
    { type: "image_url", image_url: { url: "https://x.test/a.jpg" } },
    {
      type: "file",
      file: { filename: "spec.pdf", file_data: "data:application/pdf;base64,JVBERi0" },
    },
    { type: "text", text: "plain doc" },
  ]);
});

Deno.test("request: a document's context goes with it; what cannot be sent (Files API) is named, not dropped", () => {
  const body = build(request({
    messages: [
      {
        role: "user",
        content: [
          {
            type: "document",
            title: "spec.pdf",
            context: "The draft of March",
            source: { type: "base64", media_type: "application/pdf", data: "JVBERi0" },
          },
          {
            type: "document",
            title: "notes",
            context: "From the meeting",
            source: { type: "base64", media_type: "text/plain", data: btoa("plain doc") },
          },
          { type: "image", source: { type: "file", file_id: "file_img1" } },
        ],
      },
      {
        role: "assistant",
        content: [{ type: "tool_use", id: "toolu_a", name: "read", input: {} }],
      },
      // Only a file the upstream cannot read: the turn keeps its place, with the note.
      {
        role: "user",
        content: [
          {
            type: "tool_result",
            tool_use_id: "toolu_a",
            content: [{ type: "image", source: { type: "file", file_id: "file_img2" } }],
          },
        ],
      },
      { role: "assistant", content: "ok" },
      {
        role: "user",
        content: [{ type: "document", source: { type: "file", file_id: "file_doc3" } }],
      },
    ],
  }));
  assert.deepEqual(body.messages[0].content, [
    { type: "text", text: "The draft of March" },
    {
      type: "file",
      file: { filename: "spec.pdf", file_data: "data:application/pdf;base64,JVBERi0" },
    },
    { type: "text", text: "notes\n\nFrom the meeting\n\nplain doc" },
    {
      type: "text",
      text:
        "[An image from Anthropic's Files API (file_img1) was attached here; this upstream cannot read those files]",
    },
  ]);
  assert.equal(
    body.messages[2].content,
    "[An image from Anthropic's Files API (file_img2) was attached here; this upstream cannot read those files]",
  );
  assert.equal(body.messages.at(-1).role, "user");
  assert.match(body.messages.at(-1).content, /A document from Anthropic's Files API \(file_doc3\)/);
});

Deno.test("request: search results reach the model as text, alone or inside a tool result", () => {
  const result = {
    type: "search_result",
    source: "https://docs.test/sky",
    title: "Sky facts",
    content: [{ type: "text", text: "The sky is blue." }],
  };
  const alone = build(request({ messages: [{ role: "user", content: [result] as any }] }));
  assert.match(
    alone.messages[0].content,
    /Sky facts[\s\S]*https:\/\/docs\.test\/sky[\s\S]*The sky is blue\./,
  );
  const inResult = build(request({
    messages: [
      { role: "user", content: "search" },
      { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "find", input: {} }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: [result] }] },
    ] as any,
  }));
  assert.match(inResult.messages[2].content, /Sky facts[\s\S]*The sky is blue\./);
});

Deno.test("request: tool calls and results pair up in the order OpenAI demands", () => {
  const body = build(request({
    messages: [
      { role: "user", content: "go" },
      {
        role: "assistant",
        content: [
          { type: "thinking", thinking: "plan", signature: "sig" },
          { type: "redacted_thinking", data: "xyz" },
          { type: "text", text: "Running." },
          { type: "tool_use", id: "toolu_1", name: "Bash", input: { command: "ls" } },
          { type: "tool_use", id: "toolu_2", name: "Read", input: { file_path: "a" } },
          { type: "tool_use", id: "toolu_3", name: "Read", input: { file_path: "b" } },
        ],
      },
      {
        role: "user",
        content: [
          { type: "text", text: "Also check c" },
          { type: "tool_result", tool_use_id: "toolu_unknown", content: "stray" },
          {
            type: "tool_result",
            tool_use_id: "toolu_2",
            is_error: true,
            content: [{ type: "text", text: "no such file" }, { type: "text", text: "try again" }],
          },
          {
            type: "tool_result",
            tool_use_id: "toolu_1",
            content: [
              { type: "text", text: "shot.png" },
              { type: "image", source: { type: "base64", media_type: "image/png", data: "AAAA" } },
            ],
            cache_control: { type: "ephemeral" },
          },
        ],
      },
    ],
  }));
  assert.deepEqual(body.messages, [
    { role: "user", content: "go" },
    {
      role: "assistant",
      content: "Running.",
      tool_calls: [
        {
          id: "toolu_1",
          type: "function",
          function: { name: "Bash", arguments: '{"command":"ls"}' },
        },
        {
          id: "toolu_2",
          type: "function",
          function: { name: "Read", arguments: '{"file_path":"a"}' },
        },
        {
          id: "toolu_3",
          type: "function",
          function: { name: "Read", arguments: '{"file_path":"b"}' },
        },
      ],
    },
    { role: "tool", tool_call_id: "toolu_2", content: "Error: no such file\ntry again" },
    {
      role: "tool",
      tool_call_id: "toolu_1",
      content: "shot.png\n[1 attachment(s) from this result follow in the next message]",
    },
    // toolu_3 had no result (an interrupted turn): answered so the history stays valid.
    { role: "tool", tool_call_id: "toolu_3", content: "(no result: the call was interrupted)" },
    {
      role: "user",
      content: [
        { type: "text", text: "Attachments from the tool result(s) above:" },
        { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } },
        { type: "text", text: "Also check c" },
      ],
    },
  ]);
});

Deno.test("request: assistant with only tool calls has null content; a trailing call is answered", () => {
  const body = build(request({
    messages: [
      { role: "user", content: "go" },
      { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "Bash", input: {} }] },
    ],
  }));
  assert.deepEqual(body.messages, [
    { role: "user", content: "go" },
    {
      role: "assistant",
      content: null,
      tool_calls: [{ id: "t1", type: "function", function: { name: "Bash", arguments: "{}" } }],
    },
    { role: "tool", tool_call_id: "t1", content: "(no result: the call was interrupted)" },
  ]);
});

Deno.test("request: a system message between a call and its result waits until after the result", () => {
  const body = build(request({
    messages: [
      { role: "user", content: "go" },
      { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "Bash", input: {} }] },
      { role: "system", content: "reminder" },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "ok" }] },
    ],
  }));
  assert.deepEqual(body.messages.map((m: any) => m.role), ["user", "assistant", "tool", "system"]);
});

Deno.test("request: for a compatible server every system message but the first becomes a note in a user turn", () => {
  const messages: MessagesRequest["messages"] = [
    { role: "system", content: "Before anything" },
    { role: "user", content: "one" },
    { role: "system", content: [{ type: "text", text: "After one" }] },
    { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "Bash", input: {} }] },
    { role: "system", content: "<system-reminder>Already tagged</system-reminder>" },
    { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "ok" }] },
    { role: "assistant", content: "done" },
    { role: "system", content: "Last word" },
  ];
  const body = build(
    request({ system: "Be brief.", messages }),
    context({ serviceType: "custom" }),
  );
  validateChatRequest(body, { strictTemplate: true });
  const note = (text: string) => `<system-reminder>\n${text}\n</system-reminder>`;
  assert.deepEqual(body.messages, [
    { role: "system", content: "Be brief.\n\nBefore anything" },
    { role: "user", content: `one\n${note("After one")}` },
    {
      role: "assistant",
      content: null,
      tool_calls: [{ id: "t1", type: "function", function: { name: "Bash", arguments: "{}" } }],
    },
    { role: "tool", tool_call_id: "t1", content: "ok" },
    { role: "user", content: "<system-reminder>Already tagged</system-reminder>" },
    { role: "assistant", content: "done" },
    { role: "user", content: note("Last word") },
  ]);
  // OpenAI takes them where they stand.
  const openai = build(request({ system: "Be brief.", messages }));
  assert.deepEqual(openai.messages.map((m: any) => m.role), [
    "system",
    "system",
    "user",
    "system",
    "assistant",
    "tool",
    "system",
    "assistant",
    "system",
  ]);
  assert.throws(() => validateChatRequest(openai, { strictTemplate: true }), /beginning/);
});

Deno.test("request: consecutive turns of one role are one turn, so every call keeps its result", () => {
  const call = (id: string) => ({ type: "tool_use", id, name: "Read", input: { file_path: id } });
  const result = (id: string) => ({
    type: "tool_result",
    tool_use_id: id,
    content: `RESULT_${id}`,
  });
  const answers = (messages: MessagesRequest["messages"], kind = "openai") => {
    const body = build(request({ messages }), context({ serviceType: kind }));
    validateChatRequest(body, kind === "custom" ? { strictTemplate: true } : {});
    return body.messages.filter((m: any) => m.role !== "user").map((m: any) =>
      m.role === "tool"
        ? `${m.tool_call_id}=${m.content}`
        : m.tool_calls.map((c: any) => c.id).join("+")
    );
  };
  const go = { role: "user" as const, content: "go" };
  for (const kind of ["openai", "custom"]) {
    assert.deepEqual(
      answers([
        go,
        { role: "assistant", content: [call("A")] },
        { role: "assistant", content: [call("B")] },
        { role: "user", content: [result("A"), result("B")] },
      ], kind),
      ["A+B", "A=RESULT_A", "B=RESULT_B"],
    );
    assert.deepEqual(
      answers([
        go,
        { role: "assistant", content: [call("A"), call("B")] },
        { role: "user", content: [result("A")] },
        { role: "user", content: [result("B")] },
      ], kind),
      ["A+B", "A=RESULT_A", "B=RESULT_B"],
    );
    // A system message between two user turns of results (a reminder) does not cut them apart.
    const body = build(
      request({
        messages: [
          go,
          { role: "assistant", content: [call("A"), call("B")] },
          { role: "user", content: [result("A"), { type: "text", text: "first" }] },
          { role: "system", content: "reminder" },
          { role: "user", content: [result("B"), { type: "text", text: "and?" }] },
        ],
      }),
      context({ serviceType: kind }),
    );
    validateChatRequest(body, kind === "custom" ? { strictTemplate: true } : {});
    const seen = body.messages.slice(2).map((m: any) =>
      m.role === "tool" ? `${m.tool_call_id}=${m.content}` : `${m.role}:${m.content}`
    );
    assert.deepEqual(
      seen,
      kind === "custom"
        ? [
          "A=RESULT_A",
          "B=RESULT_B",
          "user:first\n<system-reminder>\nreminder\n</system-reminder>\nand?",
        ]
        : ["A=RESULT_A", "B=RESULT_B", "user:first", "system:reminder", "user:and?"],
    );
  }
  // Text of consecutive user turns goes as one message, in order.
  const body = build(request({
    messages: [go, { role: "user", content: [{ type: "text", text: "now" }] }],
  }));
  assert.deepEqual(body.messages, [{ role: "user", content: "go\nnow" }]);
});

Deno.test("request: turns left empty do not put two user or two assistant messages in a row", () => {
  const body = build(
    request({
      messages: [
        { role: "user", content: "one" },
        { role: "assistant", content: [{ type: "thinking", thinking: "hm", signature: "s" }] },
        { role: "user", content: "two" },
        { role: "assistant", content: "three" },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "stray", content: "x" }] },
        { role: "assistant", content: "four" },
      ],
    }),
    context({ serviceType: "custom" }),
  );
  validateChatRequest(body, { strictTemplate: true });
  assert.deepEqual(body.messages, [
    { role: "user", content: "one\ntwo" },
    { role: "assistant", content: "three\nfour" },
  ]);
});

Deno.test("request: a compatible server gets a PDF as a short note and a text document as its text", () => {
  const content: MessagesRequest["messages"][0]["content"] = [
    { type: "text", text: "Read these" },
    {
      type: "document",
      title: "spec.pdf",
      source: { type: "base64", media_type: "application/pdf", data: "JVBERi0" },
    },
    { type: "document", source: { type: "text", media_type: "text/plain", data: "plain doc" } },
  ];
  const body = build(
    request({ messages: [{ role: "user", content }] }),
    context({ serviceType: "custom" }),
  );
  validateChatRequest(body, { strictTemplate: true });
  assert.equal(
    body.messages[0].content,
    'Read these\n[PDF document "spec.pdf" omitted: the upstream does not accept files]\nplain doc',
  );
  // Inside a tool result too.
  const inResult = build(
    request({
      messages: [
        { role: "user", content: "go" },
        { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "Read", input: {} }] },
        {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: "t1", content: [content[1] as any] }],
        },
      ],
    }),
    context({ serviceType: "custom" }),
  );
  assert.deepEqual(inResult.messages[2], {
    role: "tool",
    tool_call_id: "t1",
    content: '[PDF document "spec.pdf" omitted: the upstream does not accept files]',
  });
  // OpenAI reads PDFs: a file part.
  const openai = build(request({ messages: [{ role: "user", content }] }));
  assert.equal(openai.messages[0].content[1].type, "file");
});

Deno.test({
  name: "claude code: the inline system message and the thinking history survive translation",
  ignore: !HAVE_CLAUDE_CODE_FIXTURES,
}, () => {
  const [, req] = claudeCodeRequests().find(([n]) => n.includes("with-thinking"))!;
  // OpenAI takes a system message anywhere: it keeps its place.
  const openai = build(req, context());
  assert.deepEqual(openai.messages.map((m: any) => m.role), [
    "system",
    "user",
    "system",
    "assistant",
    "tool",
  ]);
  assert.match(openai.messages[2].content, /^Available agent types/);
  // A compatible server's template takes one, first: the rest joins the user turn as a note.
  const deepseek = build(req, {
    ...context({ serviceType: "custom", baseUrl: "https://api.deepseek.com" }),
    model: "deepseek-reasoner",
  });
  validateChatRequest(deepseek, { strictTemplate: true, jsonObjectOnly: true });
  assert.deepEqual(deepseek.messages.map((m: any) => m.role), [
    "system",
    "user",
    "assistant",
    "tool",
  ]);
  assert.match(
    deepseek.messages[1].content,
    /^USE_BASH_TOOL\n<system-reminder>\nAvailable agent types/m,
  );
  assert.match(deepseek.messages[1].content, /\n<\/system-reminder>$/);
  assert.equal(deepseek.messages[2].reasoning_content, "Mock thinking about the request.");
  assert.equal(deepseek.messages[3].content, "MOCK_TOOL_OK");
  // The first system block is the identity line: the billing header is gone.
  assert.match(deepseek.messages[0].content, /^You are a Claude agent/);
});
