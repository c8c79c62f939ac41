// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import { clientToolSpec, functionToolOf } from "../../../lib/providers/client_tool_schemas.ts";

const enumOf = (tool: unknown, key: string) =>
  (clientToolSpec(tool)!.input_schema.properties as any)[key].enum;

Deno.test("client tools: each text editor version has its own name's commands, undo_edit only before Claude 4", () => {
  for (const type of ["text_editor_20241022", "text_editor_20250124"]) {
    const spec = clientToolSpec({ type, name: "str_replace_editor" })!;
    assert.equal(spec.name, "str_replace_editor");
    assert.deepEqual(enumOf({ type }, "command"), [
      "view",
      "create",
      "str_replace",
      "insert",
      "undo_edit",
    ]);
  }
  for (const type of ["text_editor_20250429", "text_editor_20250728"]) {
    assert.equal(clientToolSpec({ type })!.name, "str_replace_based_edit_tool");
    assert.deepEqual(enumOf({ type }, "command"), ["view", "create", "str_replace", "insert"]);
  }
  const props = clientToolSpec({ type: "text_editor_20250728" })!.input_schema.properties as any;
  assert.deepEqual(Object.keys(props), [
    "command",
    "path",
    "view_range",
    "file_text",
    "old_str",
    "new_str",
    "insert_line",
  ]);
});

Deno.test("client tools: bash and memory take what Anthropic documents", () => {
  for (const type of ["bash_20241022", "bash_20250124"]) {
    const spec = clientToolSpec({ type, name: "bash" })!;
    assert.equal(spec.name, "bash");
    assert.deepEqual(Object.keys(spec.input_schema.properties as any), ["command", "restart"]);
  }
  const memory = clientToolSpec({ type: "memory_20250818", name: "memory" })!;
  assert.equal(memory.name, "memory");
  assert.deepEqual(enumOf({ type: "memory_20250818" }, "command"), [
    "view",
    "create",
    "str_replace",
    "insert",
    "delete",
    "rename",
  ]);
  for (const key of ["insert_text", "old_path", "new_path"]) {
    assert.ok(key in (memory.input_schema.properties as any), key);
  }
});

Deno.test("client tools: computer use has its version's actions and tells the model the screen size", () => {
  const screen = { name: "computer", display_width_px: 1280, display_height_px: 800 };
  const old = clientToolSpec({ type: "computer_20241022", ...screen, display_number: 1 })!;
  assert.match(old.description, /1280x800 pixels \(X11 display :1\)/);
  assert.equal(enumOf({ type: "computer_20241022" }, "action").includes("scroll"), false);
  assert.equal("scroll_direction" in (old.input_schema.properties as any), false);
  const newer = enumOf({ type: "computer_20250124", ...screen }, "action");
  for (const a of ["scroll", "triple_click", "hold_key", "wait", "left_mouse_down"]) {
    assert.ok(newer.includes(a), a);
  }
  assert.equal(newer.includes("zoom"), false);
  assert.equal(enumOf({ type: "computer_20251124", ...screen }, "action").includes("zoom"), false);
  const zoom = clientToolSpec({ type: "computer_20251124", ...screen, enable_zoom: true })!;
  assert.ok((zoom.input_schema.properties as any).action.enum.includes("zoom"));
  assert.equal((zoom.input_schema.properties as any).region.minItems, 4);
});

Deno.test("client tools: server tools, custom tools and unknown types have no client schema", () => {
  for (
    const tool of [
      { type: "web_search_20250305", name: "web_search" },
      { type: "web_fetch_20250910", name: "web_fetch" },
      { type: "code_execution_20250825", name: "code_execution" },
      { type: "custom", name: "x", input_schema: { type: "object" } },
      { name: "x", input_schema: { type: "object" } },
      { type: "teleport_20250101", name: "teleport" },
      { type: "bash_latest", name: "bash" },
      null,
      "bash_20250124",
    ]
  ) {
    assert.equal(clientToolSpec(tool), undefined, JSON.stringify(tool));
  }
});

Deno.test("client tools: a version newer than those known reads as the latest of its kind", () => {
  assert.equal(clientToolSpec({ type: "bash_20990101", name: "bash" })?.name, "bash");
  const editor = clientToolSpec({ type: "text_editor_20990101", name: "edit" });
  assert.equal(editor?.name, "edit");
  assert.deepEqual(
    (editor?.input_schema.properties as { command: { enum: string[] } }).command.enum,
    ["view", "create", "str_replace", "insert"],
  );
  const computer = clientToolSpec({ type: "computer_20990101", name: "computer" });
  assert.ok(JSON.stringify(computer?.input_schema).includes("scroll_direction"));
});

Deno.test("client tools: a translated upstream is offered custom tools as sent, client tools as their spec, no server tool", () => {
  const custom = { name: "x", input_schema: { type: "object" } };
  assert.equal(functionToolOf(custom), custom);
  const typedCustom = { type: "custom", name: "y", input_schema: { type: "object" } };
  assert.equal(functionToolOf(typedCustom), typedCustom);
  assert.equal(functionToolOf({ type: "bash_20250124", name: "bash" })?.name, "bash");
  assert.ok(functionToolOf({ type: "bash_20250124", name: "bash" })?.input_schema);
  assert.equal(functionToolOf({ type: "web_fetch_20250910", name: "web_fetch" }), undefined);
  assert.equal(functionToolOf({ type: "mcp_toolset", mcp_server_name: "tickets" }), undefined);
  assert.equal(functionToolOf(null), undefined);
});
