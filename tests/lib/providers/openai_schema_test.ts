import assert from "node:assert/strict";
import { strictCompatible, withArrayItems } from "../../../lib/providers/openai_schema.ts";

Deno.test("withArrayItems gives every array its items, wherever it is, and leaves the rest as it was", () => {
  const schema = {
    type: "object",
    properties: {
      tags: { type: "array" },
      maybe: { type: ["array", "null"] },
      named: { type: "array", items: { type: "string" } },
      nested: { anyOf: [{ type: "array" }, { type: "string" }] },
      deep: { type: "object", properties: { list: { type: "array", description: "x" } } },
    },
    $defs: { Row: { type: "array" } },
  };
  const before = JSON.stringify(schema);
  const fixed = withArrayItems(schema);
  assert.equal(JSON.stringify(schema), before, "the client's schema is not changed");
  assert.deepEqual(fixed.properties.tags, { type: "array", items: {} });
  assert.deepEqual(fixed.properties.maybe, { type: ["array", "null"], items: {} });
  assert.equal(fixed.properties.named, schema.properties.named, "whole parts are shared");
  assert.deepEqual(fixed.properties.nested.anyOf[0], { type: "array", items: {} });
  assert.deepEqual(fixed.properties.deep.properties.list, {
    type: "array",
    description: "x",
    items: {},
  });
  assert.deepEqual(fixed.$defs.Row, { type: "array", items: {} });
  const whole = { type: "object", properties: { a: { type: "string" } } };
  assert.equal(withArrayItems(whole), whole, "nothing to mend: the same object");
});

Deno.test("strictCompatible refuses what OpenAI's strict mode refuses", () => {
  const closed = (properties: Record<string, unknown>) => ({
    type: "object",
    properties,
    required: Object.keys(properties),
    additionalProperties: false,
  });
  assert.equal(strictCompatible(closed({ a: { type: "string" } })), true);
  assert.equal(
    strictCompatible(closed({ a: { anyOf: [{ type: "string" }, { type: "null" }] } })),
    true,
  );
  for (
    const bad of [
      { oneOf: [{ type: "string" }, { type: "number" }] },
      { allOf: [{ type: "string" }] },
      { type: "array" },
      { type: "object", patternProperties: { "^x": { type: "string" } } },
    ]
  ) {
    assert.equal(strictCompatible(closed({ a: bad })), false, JSON.stringify(bad));
  }
  assert.equal(strictCompatible({ type: "object", properties: { a: { type: "string" } } }), false);
});
