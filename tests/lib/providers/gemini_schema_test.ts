import assert from "node:assert/strict";
import { HAVE_CLAUDE_CODE_FIXTURES } from "../../helpers/fixtures.ts";
import {
  cleanGeminiSchema,
  cleanToolParameters,
  decodeJsonPaths,
  encodeJsonPaths,
  type GeminiSchema,
} from "../../../lib/providers/gemini_schema.ts";

const FIXTURES = new URL("../../../../shared/fixtures/claude-code/", import.meta.url);

// deno-lint-ignore no-explicit-any
type Any = any;

/** Every keyword Gemini's `Schema` accepts (its REST reference); anything else is a 400. */
const GEMINI_SCHEMA_KEYS: ReadonlySet<string> = new Set([
  "type",
  "format",
  "title",
  "description",
  "nullable",
  "enum",
  "items",
  "minItems",
  "maxItems",
  "properties",
  "required",
  "minProperties",
  "maxProperties",
  "minLength",
  "maxLength",
  "pattern",
  "minimum",
  "maximum",
  "anyOf",
  "default",
  "example",
  "propertyOrdering",
]);

/** Every schema rule Gemini enforces, checked over a whole cleaned tree; returns the problems. */
function geminiSchemaProblems(schema: unknown, at = "parameters"): string[] {
  const problems: string[] = [];
  const walk = (s: Any, path: string) => {
    if (typeof s !== "object" || s === null || Array.isArray(s)) {
      problems.push(`${path}: not an object`);
      return;
    }
    for (const key of Object.keys(s)) {
      if (!GEMINI_SCHEMA_KEYS.has(key)) problems.push(`${path}: unknown keyword ${key}`);
    }
    const type = s.type;
    if (type === undefined && !Array.isArray(s.anyOf)) problems.push(`${path}: no type`);
    if (
      type !== undefined &&
      !["STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT"].includes(type)
    ) {
      problems.push(`${path}: bad type ${JSON.stringify(type)}`);
    }
    if (s.enum !== undefined) {
      if (type !== "STRING") problems.push(`${path}: enum on ${type}`);
      if (!s.enum.every((v: unknown) => typeof v === "string")) {
        problems.push(`${path}: non-string enum`);
      }
    }
    if (s.format !== undefined && type === "STRING" && !["enum", "date-time"].includes(s.format)) {
      problems.push(`${path}: string format ${s.format}`);
    }
    if (type === "OBJECT") {
      const props = s.properties ?? {};
      if (Object.keys(props).length === 0) problems.push(`${path}: empty OBJECT`);
      for (const r of s.required ?? []) {
        if (!(r in props)) problems.push(`${path}: required ${r} not a property`);
      }
    }
    if (type === "ARRAY" && s.items === undefined) problems.push(`${path}: ARRAY without items`);
    for (
      const k of [
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        "minProperties",
        "maxProperties",
      ]
    ) {
      if (s[k] !== undefined && !Number.isSafeInteger(s[k])) {
        problems.push(`${path}: ${k} not int64`);
      }
    }
    for (const [name, sub] of Object.entries(s.properties ?? {})) walk(sub, `${path}.${name}`);
    if (s.items !== undefined) walk(s.items, `${path}.items`);
    (s.anyOf ?? []).forEach((b: unknown, i: number) => walk(b, `${path}.anyOf[${i}]`));
  };
  walk(schema, at);
  return problems;
}

function tools(file: string): Any[] {
  return JSON.parse(Deno.readTextFileSync(new URL(file, FIXTURES))).tools;
}

Deno.test({
  name: "every Claude Code tool schema comes out inside Gemini's subset",
  ignore: !HAVE_CLAUDE_CODE_FIXTURES,
}, () => {
  const all = tools("claude-code-main-request.json");
  assert.equal(all.length, 24);
  for (const tool of all) {
    const { schema } = cleanToolParameters(tool.input_schema);
    if (Object.keys(tool.input_schema.properties ?? {}).length === 0) {
      assert.equal(schema, undefined, `${tool.name} has no parameters to declare`);
      continue;
    }
    assert.ok(schema, `${tool.name} lost its parameters`);
    assert.deepEqual(geminiSchemaProblems(schema, tool.name), []);
    // No property disappears: only keywords are dropped.
    assert.deepEqual(
      Object.keys(schema.properties as object),
      Object.keys(tool.input_schema.properties),
      tool.name,
    );
  }
});

Deno.test({
  name: "property names that look like keywords are kept as properties",
  ignore: !HAVE_CLAUDE_CODE_FIXTURES,
}, () => {
  const workflow = tools("claude-code-main-request.json").find((t) => t.name === "Workflow");
  const { schema } = cleanToolParameters(workflow.input_schema);
  const props = schema!.properties as Record<string, GeminiSchema>;
  assert.equal(props.title.type, "STRING");
  assert.equal(props.description.type, "STRING");
  assert.equal(props.resumeFromRunId.pattern, "^wf_[a-z0-9-]{6,}$");

  const { schema: odd } = cleanToolParameters({
    type: "object",
    properties: {
      pattern: { type: "string" },
      format: { type: "string", format: "uri" },
      $ref: { type: "integer" },
      additionalProperties: { type: "boolean" },
    },
    required: ["pattern", "$ref", "gone"],
  });
  assert.deepEqual(Object.keys(odd!.properties as object), [
    "pattern",
    "format",
    "$ref",
    "additionalProperties",
  ]);
  assert.deepEqual(odd!.required, ["pattern", "$ref"]);
  assert.equal((odd!.properties as Any).format.format, undefined, "format uri is dropped");
});

Deno.test("type arrays and anyOf with a null branch become nullable and keep a type", () => {
  const { schema } = cleanGeminiSchema({
    type: "object",
    properties: {
      a: { type: ["string", "null"], description: "maybe text" },
      b: { anyOf: [{ type: "integer", minimum: 1 }, { type: "null" }], description: "count" },
      c: { oneOf: [{ type: "null" }, { $ref: "#/$defs/Point" }] },
    },
    $defs: { Point: { type: "object", properties: { x: { type: "number" } }, required: ["x"] } },
  });
  const p = schema!.properties as Any;
  assert.deepEqual(p.a, { type: "STRING", description: "maybe text", nullable: true });
  assert.deepEqual(p.b, { type: "INTEGER", description: "count", minimum: 1, nullable: true });
  assert.deepEqual(p.c, {
    type: "OBJECT",
    properties: { x: { type: "NUMBER" } },
    required: ["x"],
    nullable: true,
  });
});

Deno.test({
  name: "anyOf of string enums and consts collapses into one enum (TaskUpdate.status)",
  ignore: !HAVE_CLAUDE_CODE_FIXTURES,
}, () => {
  const task = tools("claude-code-main-request.json").find((t) => t.name === "TaskUpdate");
  const { schema } = cleanToolParameters(task.input_schema);
  const status = (schema!.properties as Any).status;
  assert.equal(status.type, "STRING");
  assert.deepEqual(status.enum, ["pending", "in_progress", "completed", "deleted"]);
  assert.equal(status.description, "New status for the task");
});

Deno.test("anyOf of different types stays an anyOf of typed branches", () => {
  const { schema } = cleanGeminiSchema({
    description: "id or list",
    anyOf: [{ type: "string", format: "uri" }, {
      type: "array",
      items: { type: "integer" },
      uniqueItems: true,
    }],
  });
  assert.deepEqual(schema, {
    description: "id or list",
    anyOf: [{ type: "STRING" }, { type: "ARRAY", items: { type: "INTEGER" } }],
  });
  const multi = cleanGeminiSchema({ type: ["integer", "string", "null"] }).schema;
  assert.deepEqual(multi, { anyOf: [{ type: "INTEGER" }, { type: "STRING" }], nullable: true });
});

Deno.test("$ref is inlined from $defs and definitions, and a cycle ends in JSON text", () => {
  const { schema, jsonPaths } = cleanToolParameters({
    type: "object",
    properties: {
      tree: { $ref: "#/$defs/Node" },
      legacy: { $ref: "#/definitions/Name" },
    },
    $defs: {
      Node: {
        type: "object",
        properties: { label: { type: "string" }, child: { $ref: "#/$defs/Node" } },
      },
    },
    definitions: { Name: { type: "string", minLength: 1 } },
  });
  assert.deepEqual(geminiSchemaProblems(schema), []);
  const p = schema!.properties as Any;
  assert.deepEqual(p.legacy, { type: "STRING", minLength: 1 });
  assert.equal(p.tree.properties.label.type, "STRING");
  assert.equal(p.tree.properties.child.type, "STRING", "the recursive branch is JSON text");
  assert.deepEqual(jsonPaths, [["tree", "child"]]);
  const args = decodeJsonPaths(
    { tree: { label: "root", child: '{"label":"leaf"}' } },
    jsonPaths,
  );
  assert.deepEqual(args, { tree: { label: "root", child: { label: "leaf" } } });
});

Deno.test("allOf branches merge their properties and required lists", () => {
  const { schema } = cleanToolParameters({
    allOf: [
      { type: "object", properties: { a: { type: "string" } }, required: ["a"] },
      { properties: { b: { type: "boolean", default: false } }, required: ["b"] },
    ],
    not: { required: ["c"] },
  });
  assert.deepEqual(schema, {
    type: "OBJECT",
    properties: { a: { type: "STRING" }, b: { type: "BOOLEAN", default: false } },
    required: ["a", "b"],
  });
});

Deno.test("numeric enums and consts become string enums and decode back to numbers", () => {
  const { schema, jsonPaths } = cleanToolParameters({
    type: "object",
    properties: {
      level: { type: "integer", enum: [1, 2, 3] },
      version: { const: 2 },
      mode: { const: "fast" },
      flag: { enum: [true, false, null] },
    },
  });
  const p = schema!.properties as Any;
  assert.deepEqual(p.level, { type: "STRING", format: "enum", enum: ["1", "2", "3"] });
  assert.deepEqual(p.version.enum, ["2"]);
  assert.deepEqual(p.mode.enum, ["fast"]);
  assert.deepEqual(p.flag, {
    type: "STRING",
    format: "enum",
    enum: ["true", "false"],
    nullable: true,
  });
  assert.deepEqual(jsonPaths, [["level"], ["version"], ["flag"]]);
  assert.deepEqual(
    decodeJsonPaths({ level: "2", version: "2", mode: "fast", flag: "false" }, jsonPaths),
    { level: 2, version: 2, mode: "fast", flag: false },
  );
});

Deno.test({
  name: "bounds: exclusive ones tighten, huge ones stay numbers, counts stay integers",
  ignore: !HAVE_CLAUDE_CODE_FIXTURES,
}, () => {
  const read = tools("claude-code-main-request.json").find((t) => t.name === "Read");
  const p = cleanToolParameters(read.input_schema).schema!.properties as Any;
  assert.equal(p.limit.minimum, 1, "exclusiveMinimum 0 on an integer is minimum 1");
  assert.equal(p.offset.maximum, 9007199254740991);
  const { schema } = cleanGeminiSchema({
    type: "number",
    exclusiveMaximum: 1.5,
    multipleOf: 0.5,
  });
  assert.deepEqual(schema, { type: "NUMBER", maximum: 1.5 });
  const s = cleanGeminiSchema({ type: "string", maxLength: 1e300, minLength: -1 }).schema;
  assert.deepEqual(s, { type: "STRING", maxLength: Number.MAX_SAFE_INTEGER });
});

Deno.test("formats: only enum and date-time on strings, int/float formats on numbers", () => {
  const { schema } = cleanToolParameters({
    type: "object",
    properties: {
      when: { type: "string", format: "date-time" },
      url: { type: "string", format: "uri" },
      day: { type: "string", format: "date" },
      n: { type: "integer", format: "int64" },
      x: { type: "number", format: "uint8" },
    },
  });
  const p = schema!.properties as Any;
  assert.equal(p.when.format, "date-time");
  assert.equal(p.url.format, undefined);
  assert.equal(p.day.format, undefined);
  assert.equal(p.n.format, "int64");
  assert.equal(p.x.format, undefined);
});

Deno.test({
  name: "free-form objects and untyped values become JSON text that decodes back",
  ignore: !HAVE_CLAUDE_CODE_FIXTURES,
}, () => {
  const taskCreate = tools("claude-code-main-request.json").find((t) => t.name === "TaskCreate");
  const { schema, jsonPaths } = cleanToolParameters(taskCreate.input_schema);
  const metadata = (schema!.properties as Any).metadata;
  assert.equal(metadata.type, "STRING");
  assert.match(metadata.description, /JSON/);
  assert.deepEqual(jsonPaths, [["metadata"]]);

  const input = { subject: "x", metadata: { team: "core", n: 1 } };
  const encoded = encodeJsonPaths(input, jsonPaths) as Any;
  assert.equal(encoded.metadata, '{"team":"core","n":1}');
  assert.deepEqual(input.metadata, { team: "core", n: 1 }, "the client's input is not changed");
  assert.deepEqual(decodeJsonPaths(encoded, jsonPaths), input);
  // Text that is not JSON stays the text the model wrote.
  assert.deepEqual(decodeJsonPaths({ metadata: "not json" }, jsonPaths), { metadata: "not json" });
});

Deno.test("arrays get items even when the schema has none, with paths through every item", () => {
  const { schema, jsonPaths } = cleanToolParameters({
    type: "object",
    properties: {
      rows: { type: "array", items: { type: "object", properties: { cells: { type: "array" } } } },
      tuple: { type: "array", prefixItems: [{ type: "string" }] },
    },
  });
  const p = schema!.properties as Any;
  assert.equal(p.rows.items.properties.cells.items.type, "STRING");
  assert.equal(p.tuple.items.type, "STRING");
  assert.deepEqual(jsonPaths, [["rows", null, "cells", null]]);
  assert.deepEqual(
    decodeJsonPaths({ rows: [{ cells: ["1", '{"a":2}'] }, { cells: ["[3]"] }] }, jsonPaths),
    { rows: [{ cells: [1, { a: 2 }] }, { cells: [[3]] }] },
  );
});

Deno.test("a tool without properties gets no parameters at all", () => {
  assert.equal(cleanToolParameters({ type: "object", properties: {} }).schema, undefined);
  assert.equal(
    cleanToolParameters({ type: "object", additionalProperties: false }).schema,
    undefined,
  );
  assert.equal(cleanToolParameters(undefined).schema, undefined);
});

Deno.test("defaults and examples of the wrong type are dropped, right ones kept", () => {
  const { schema } = cleanToolParameters({
    type: "object",
    properties: {
      timeout: { type: "number", default: 30000, examples: [5000] },
      block: { type: "boolean", default: "yes" },
      name: { type: "string", default: null },
    },
  });
  const p = schema!.properties as Any;
  assert.deepEqual(p.timeout, { type: "NUMBER", default: 30000, example: 5000 });
  assert.deepEqual(p.block, { type: "BOOLEAN" });
  assert.deepEqual(p.name, { type: "STRING" });
});

Deno.test("patterns RE2 cannot compile are dropped", () => {
  assert.deepEqual(cleanGeminiSchema({ type: "string", pattern: "^(?!tmp).*$" }).schema, {
    type: "STRING",
  });
  assert.deepEqual(cleanGeminiSchema({ type: "string", pattern: "^[a-z]+$" }).schema, {
    type: "STRING",
    pattern: "^[a-z]+$",
  });
});

Deno.test("types are inferred from structure when the schema omits them", () => {
  const { schema } = cleanToolParameters({
    properties: {
      list: { items: { type: "string" } },
      choice: { enum: ["a", "b"] },
      nested: { properties: { ok: { type: "boolean" } } },
    },
  });
  assert.deepEqual(geminiSchemaProblems(schema), []);
  const p = schema!.properties as Any;
  assert.equal(p.list.type, "ARRAY");
  assert.equal(p.choice.type, "STRING");
  assert.equal(p.nested.type, "OBJECT");
});

Deno.test("branches that only add constraints keep their parent, at the top and nested", () => {
  const source = {
    type: "object",
    description: "where to read from",
    properties: {
      path: { type: "string" },
      url: { type: "string", format: "uri" },
      level: { type: "integer", enum: [1, 2, 3] },
    },
    oneOf: [{ required: ["path"] }, { required: ["url"] }],
  };
  const top = cleanToolParameters(source);
  assert.deepEqual(geminiSchemaProblems(top.schema), []);
  assert.deepEqual(top.schema, {
    type: "OBJECT",
    description: "where to read from",
    properties: {
      path: { type: "STRING" },
      url: { type: "STRING" },
      level: { type: "STRING", format: "enum", enum: ["1", "2", "3"] },
    },
  });
  assert.deepEqual(top.jsonPaths, [["level"]]);

  const nested = cleanToolParameters({
    type: "object",
    properties: { source, note: { type: "string", anyOf: [{ minLength: 1 }, { pattern: "^x" }] } },
    required: ["source"],
  });
  const p = nested.schema!.properties as Any;
  assert.deepEqual(p.source, top.schema);
  assert.deepEqual(p.note, { type: "STRING" });
  assert.deepEqual(nested.jsonPaths, [["source", "level"]]);
  assert.deepEqual(
    decodeJsonPaths({ source: { url: "https://x", level: "2" } }, nested.jsonPaths),
    { source: { url: "https://x", level: 2 } },
  );
});

Deno.test("what every branch requires stays required; properties only branches name are optional", () => {
  const { schema, jsonPaths } = cleanToolParameters({
    type: "object",
    properties: { a: { type: "string" } },
    anyOf: [
      { required: ["a", "b"], properties: { b: { type: "integer", enum: [1, 2] } } },
      { required: ["a", "c"], properties: { c: { type: "boolean" } } },
    ],
  });
  assert.deepEqual(schema, {
    type: "OBJECT",
    properties: {
      a: { type: "STRING" },
      b: { type: "STRING", format: "enum", enum: ["1", "2"] },
      c: { type: "BOOLEAN" },
    },
    required: ["a"],
  });
  assert.deepEqual(jsonPaths, [["b"]]);
  // A root of typed object branches is one object too: Gemini's parameters must be an OBJECT.
  const union = cleanToolParameters({
    anyOf: [
      { type: "object", properties: { kind: { const: "file" }, path: { type: "string" } } },
      { type: "object", properties: { kind: { const: "url" }, url: { type: "string" } } },
    ],
  }).schema as Any;
  assert.deepEqual(union.properties.kind, {
    type: "STRING",
    format: "enum",
    enum: ["file", "url"],
  });
  assert.deepEqual(Object.keys(union.properties), ["kind", "path", "url"]);
});

Deno.test("nested, a typeless branch with a shape of its own takes the parent's type and properties", () => {
  const { schema, jsonPaths } = cleanGeminiSchema({
    type: "object",
    properties: { id: { type: "string" } },
    required: ["id"],
    oneOf: [
      { properties: { kind: { const: "a" }, size: { type: "integer", enum: [1, 2] } } },
      { properties: { kind: { const: "b" } } },
      { type: "string" },
    ],
  });
  assert.deepEqual(geminiSchemaProblems(schema), []);
  assert.deepEqual(schema, {
    anyOf: [
      {
        type: "OBJECT",
        properties: {
          id: { type: "STRING" },
          kind: { type: "STRING", format: "enum", enum: ["a"] },
          size: { type: "STRING", format: "enum", enum: ["1", "2"] },
        },
        required: ["id"],
      },
      {
        type: "OBJECT",
        properties: {
          id: { type: "STRING" },
          kind: { type: "STRING", format: "enum", enum: ["b"] },
        },
        required: ["id"],
      },
      { type: "STRING" },
    ],
  });
  // The string branch cannot hold an object: `size` is always the enum written as text.
  assert.deepEqual(jsonPaths, [["size"]]);
});

Deno.test("an enum in one anyOf branch decodes only where no other branch takes plain text", () => {
  const safe = cleanToolParameters({
    type: "object",
    properties: {
      level: { anyOf: [{ type: "integer", enum: [1, 2, 3] }, { type: "boolean" }] },
      items: {
        anyOf: [
          { type: "array", items: { type: "integer", enum: [7, 8] } },
          { type: "object", properties: { name: { type: "string" } } },
        ],
      },
      loose: { anyOf: [{ type: "integer", enum: [1, 2] }, { type: "string" }] },
    },
  });
  assert.deepEqual(geminiSchemaProblems(safe.schema), []);
  assert.deepEqual(safe.jsonPaths, [["level"], ["items", null]]);
  assert.deepEqual(
    decodeJsonPaths({ level: "2", items: ["7"], loose: "1" }, safe.jsonPaths),
    { level: 2, items: [7], loose: "1" },
  );
  assert.deepEqual(decodeJsonPaths({ level: true, items: { name: "8" } }, safe.jsonPaths), {
    level: true,
    items: { name: "8" },
  });
});

Deno.test("anyOf of numeric consts is one enum that decodes back to numbers", () => {
  const { schema, jsonPaths } = cleanToolParameters({
    type: "object",
    properties: {
      retries: { description: "how often", anyOf: [{ const: 0 }, { const: 1 }, { const: 3 }] },
    },
  });
  assert.deepEqual((schema!.properties as Any).retries, {
    type: "STRING",
    description: "how often",
    format: "enum",
    enum: ["0", "1", "3"],
  });
  assert.deepEqual(decodeJsonPaths({ retries: "3" }, jsonPaths), { retries: 3 });
});

Deno.test("refs that share refs, 2 KB of schema growing as 2^depth when inlined, stay within a node budget", () => {
  const levels = 30;
  const defs: Record<string, unknown> = {};
  for (let i = 0; i < levels; i++) {
    const next = i + 1 < levels ? { $ref: `#/$defs/d${i + 1}` } : { type: "string" };
    defs[`d${i}`] = { type: "object", properties: { a: next, b: next } };
  }
  const schema = { type: "object", properties: { root: { $ref: "#/$defs/d0" } }, $defs: defs };
  const started = performance.now();
  const { schema: out } = cleanToolParameters(schema);
  const ms = performance.now() - started;
  // Some 2^30 nodes inlined whole; within the budget, a few thousand, the rest a JSON value.
  assert.ok(ms < 2_000, `took ${Math.round(ms)} ms`);
  assert.equal(out?.type, "OBJECT");
  const size = JSON.stringify(out).length;
  assert.ok(size < 5_000_000, `${size} characters`);
  const root = (out?.properties as Record<string, GeminiSchema>).root;
  assert.equal((root.properties as Record<string, GeminiSchema>).a.type, "OBJECT", "levels kept");
});
