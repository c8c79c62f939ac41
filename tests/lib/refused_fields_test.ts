// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import { dropFields, RefusedFields } from "../../lib/refused_fields.ts";

Deno.test("refused fields: a pattern deletes its field in every item, passing over union tags", () => {
  const doc: any = {
    context_management: { edits: [] },
    thinking: { type: "adaptive", display: "omitted" },
    tools: [{ name: "a", defer_loading: true }, { name: "b" }, { name: "c", defer_loading: false }],
    messages: [
      {
        role: "user",
        content: [{ type: "text", text: "hi", cache_control: { type: "ephemeral", ttl: "1h" } }],
      },
      {
        role: "assistant",
        content: [{ type: "tool_use", id: "t", name: "a", input: {}, caller: { type: "direct" } }],
      },
    ],
  };
  dropFields(doc, [
    "context_management",
    "thinking.adaptive.display",
    "tools.*.custom.defer_loading",
    "messages.*.content.*.text.cache_control.ttl",
    "messages.*.content.*.tool_use.caller",
    "no.such.path",
  ]);
  assert.deepEqual(doc, {
    thinking: { type: "adaptive" },
    tools: [{ name: "a" }, { name: "b" }, { name: "c" }],
    messages: [
      {
        role: "user",
        content: [{ type: "text", text: "hi", cache_control: { type: "ephemeral" } }],
      },
      { role: "assistant", content: [{ type: "tool_use", id: "t", name: "a", input: {} }] },
    ],
  });
});

Deno.test("refused fields: learned per upstream, each once, a new list each time", () => {
  const refused = new RefusedFields();
  assert.equal(refused.for("vertex"), undefined);
  refused.learn("vertex", ["context_management"]);
  const first = refused.for("vertex");
  refused.learn("vertex", ["context_management", "output_config"]);
  assert.deepEqual(first, ["context_management"], "a request keeps the list it was sent with");
  assert.deepEqual(refused.for("vertex"), ["context_management", "output_config"]);
  assert.equal(refused.for("anthropic"), undefined);
});

Deno.test("refused fields: an upstream refusing field after field is not followed past 64", () => {
  const refused = new RefusedFields();
  for (let i = 0; i < 100; i++) refused.learn("odd", [`field_${i}`]);
  assert.equal(refused.for("odd")?.length, 64);
});
