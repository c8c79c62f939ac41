import assert from "node:assert/strict";
import { parseBody, sharedTools } from "../../lib/parse_body.ts";
import { claudeCodeFixtures, HAVE_CLAUDE_CODE_FIXTURES } from "../helpers/fixtures.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

/** A tool set big enough to be remembered; `tag` makes distinct sets. */
function tools(tag: string, count = 12): unknown[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `${tag}_tool_${i}`,
    description: `Runs step ${i} — “quoted”, with a long explanation. `.repeat(6),
    input_schema: {
      type: "object",
      properties: { path: { type: "string", description: "Where — absolute" } },
      required: ["path"],
    },
  }));
}

function body(toolSet: unknown, text = "hello", extra: Record<string, unknown> = {}) {
  return {
    model: "claude-sonnet-4-5",
    max_tokens: 1024,
    messages: [{ role: "user", content: text }],
    system: "You are helpful ✓",
    tools: toolSet,
    ...extra,
  };
}

function parsedTwice(raw: string): Any {
  parseBody(raw);
  return parseBody(raw);
}

Deno.test("parseBody: a tools text seen before is handed out as one frozen array, equal to a fresh parse", () => {
  const set = tools("same");
  const first = parseBody(JSON.stringify(body(set, "first turn"))) as Any;
  assert.equal(sharedTools(first.tools), false);
  const raw = JSON.stringify(body(set, "second turn"));
  const second = parseBody(raw) as Any;
  assert.deepEqual(second, JSON.parse(raw));
  assert.equal(sharedTools(second.tools), true);
  const spaced = JSON.stringify(body(set, "third turn")).replace('"tools":', '"tools" :\n  ');
  const third = parseBody(spaced) as Any;
  assert.equal(third.tools, second.tools, "space around the member does not matter");
  assert.equal(third.messages[0].content, "third turn");
  assert.throws(() => {
    second.tools[0].name = "changed";
  }, TypeError);
  assert.throws(() => second.tools.push({}), TypeError);
});

Deno.test("parseBody: tools that differ in one character are parsed as sent", () => {
  const set = tools("near");
  parsedTwice(JSON.stringify(body(set)));
  const changed = structuredClone(set) as Any[];
  changed[11].input_schema.required = [];
  const raw = JSON.stringify(body(changed));
  const parsed = parseBody(raw) as Any;
  assert.deepEqual(parsed, JSON.parse(raw));
  assert.deepEqual(parsed.tools[11].input_schema.required, []);
  // A set with one tool more starts with the same text but is not the same array.
  const longer = JSON.stringify(body([...set, { name: "extra" }]));
  assert.deepEqual(parseBody(longer), JSON.parse(longer));
});

Deno.test("parseBody: the known tools text elsewhere in the body does not stand for the top-level tools", () => {
  const set = tools("nested");
  const text = JSON.stringify(body(set));
  parsedTwice(text);
  // The same array under a nested "tools" key, with different top-level tools after it.
  const other = tools("other", 3);
  const nested = JSON.stringify({
    model: "m",
    max_tokens: 10,
    messages: [{
      role: "assistant",
      content: [{ type: "tool_use", id: "t1", name: "cfg", input: { tools: set } }],
    }],
    tools: other,
  });
  const parsed = parseBody(nested) as Any;
  assert.deepEqual(parsed, JSON.parse(nested));
  assert.deepEqual(parsed.tools.map((t: Any) => t.name), other.map((t: Any) => t.name));
  // Duplicate members: JSON.parse keeps the last, and so does parseBody.
  const dup = text.slice(0, -1) + ',"tools":[]}';
  assert.deepEqual((parseBody(dup) as Any).tools, []);
  // Top-level tools that are not an array, after a nested copy of the known text.
  const notArray = JSON.stringify({ ...JSON.parse(nested), tools: "\ud800" });
  assert.equal((parseBody(notArray) as Any).tools, "\ud800");
});

Deno.test("parseBody: bodies holding the stand-in escape, and broken bodies, behave as JSON.parse", () => {
  const set = tools("escape");
  parsedTwice(JSON.stringify(body(set)));
  for (const text of ["\ud800", "a\\ud800 b", "\\uD800"]) {
    const raw = JSON.stringify(body(set, text));
    assert.deepEqual(parseBody(raw), JSON.parse(raw));
  }
  const raw = JSON.stringify(body(set));
  for (const broken of [raw.slice(0, -1), raw.replace('"model"', "model"), `${raw},`]) {
    assert.throws(() => parseBody(broken), SyntaxError);
  }
  assert.deepEqual(parseBody("[1,2]"), [1, 2]);
  assert.equal(parseBody("null"), null);
});

Deno.test("parseBody: many distinct tool sets in turn are all parsed right", () => {
  const sets = Array.from({ length: 12 }, (_, i) => tools(`set${i}`));
  for (let round = 0; round < 3; round++) {
    for (const [i, set] of sets.entries()) {
      const raw = JSON.stringify(body(set, `round ${round}`));
      const parsed = parseBody(raw) as Any;
      assert.deepEqual(parsed, JSON.parse(raw));
      assert.equal(parsed.tools[0].name, `set${i}_tool_0`);
    }
  }
});

Deno.test({
  name: "parseBody: Claude Code's captured requests parse as JSON.parse parses them, tools shared",
  ignore: !HAVE_CLAUDE_CODE_FIXTURES,
  fn() {
    const fixtures = claudeCodeFixtures();
    let shared = 0;
    for (let round = 0; round < 2; round++) {
      for (const { body } of fixtures) {
        const raw = JSON.stringify(body);
        const parsed = parseBody(raw) as Any;
        assert.deepEqual(parsed, body);
        if (round === 1 && sharedTools(parsed.tools)) shared++;
      }
    }
    assert.ok(shared >= 3, `the big tool sets were reused (${shared})`);
  },
});
