import assert from "node:assert/strict";
import { jsonCompletion, ObjectPrefix } from "../../../lib/providers/partial_json.ts";

Deno.test("jsonCompletion leaves whole JSON alone and makes blank text an empty object", () => {
  assert.equal(jsonCompletion('{"a":[1,2,{"b":"}"}]}'), "");
  assert.equal(jsonCompletion('"just a string"'), "");
  assert.equal(jsonCompletion(""), "{}");
  assert.equal(jsonCompletion("  \n"), "{}");
});

Deno.test("jsonCompletion closes strings, then open arrays and objects, innermost first", () => {
  const cases: [string, string][] = [
    ['{"file_path":"/src/ma', '"}'],
    ['{"edits":[{"old":"a","new":"b\\"c', '"}]}'],
    ['{"a":"x\\', '\\"}'],
    ['{"a":"\\u00', '00"}'],
    ['{"a":[1,2', "]}"],
    ['{"a":{"b":[', "]}}"],
    ["{", "}"],
    ["[", "]"],
  ];
  for (const [text, suffix] of cases) {
    assert.equal(jsonCompletion(text), suffix, text);
    JSON.parse(text + suffix);
  }
});

Deno.test("jsonCompletion finishes a cut key, value, number or literal", () => {
  const cases: [string, string][] = [
    ['{"comm', '":null}'],
    ['{"command"', ":null}"],
    ['{"command":', "null}"],
    ['{"command": ', "null}"],
    ['{"n":-', "0}"],
    ['{"n":1.', "0}"],
    ['{"n":2e', "0}"],
    ['{"n":12', "}"],
    ['{"ok":tr', "ue}"],
    ['{"ok":fals', "e}"],
    ['{"v":[nu', "ll]}"],
    ['{"a":1,', '"":null}'],
    ["[1,", "null]"],
  ];
  for (const [text, suffix] of cases) {
    assert.equal(jsonCompletion(text), suffix, text);
    JSON.parse(text + suffix);
  }
});

Deno.test("jsonCompletion gives up where appending cannot help", () => {
  for (
    const text of [
      '{"file_path":"a"}{"file_path":"b"}',
      '{"a":1}}',
      '{"a":1]',
      '{"a":yes',
      '{"a" 1',
    ]
  ) {
    assert.equal(jsonCompletion(text), undefined, text);
  }
});

Deno.test("ObjectPrefix accepts an object piece by piece and stops at its end or a wrong closer", () => {
  const taken = (pieces: string[]) => {
    const p = new ObjectPrefix();
    return pieces.map((piece) => piece.slice(0, p.accept(piece)));
  };
  assert.deepEqual(taken([' {"a":"}', '\\"]{', '"}  ']), [' {"a":"}', '\\"]{', '"}  ']);
  assert.deepEqual(taken(['{"a":1}', "}", "{}"]), ['{"a":1}', "", ""]);
  assert.deepEqual(taken(['{"a":1} {"b"', ":2}"]), ['{"a":1} ', ""]);
  assert.deepEqual(taken(['{"a":[1}']), ['{"a":[1']);
  const none = new ObjectPrefix();
  assert.equal(none.accept("  nul"), 2);
  assert.equal(none.started, false);
});

Deno.test("ObjectPrefix passes a comma on only once a member follows it, in the same piece or a later one", () => {
  const passed = (pieces: string[]) => {
    const p = new ObjectPrefix();
    return pieces.map((piece) => p.pass(piece));
  };
  assert.deepEqual(passed(['{"a":1,', ' "b":2}']), ['{"a":1', ', "b":2}']);
  assert.deepEqual(passed(['{"a":1,', " ", "\n}"]), ['{"a":1', "", "\n}"]);
  assert.deepEqual(passed(['{"a":[1,', "]", ",}"]), ['{"a":[1', "]", "}"]);
  assert.deepEqual(passed(['{"a":"1,', '2"}']), ['{"a":"1,', '2"}']);
  // A break right after a held comma leaves it unsent: what was sent can still be completed.
  assert.deepEqual(passed(['{"a":1,', " ", "}x", "]"]), ['{"a":1', "", "}", ""]);
  assert.deepEqual(passed(['{"a":1,', ' "b" 2']), ['{"a":1', ', "b" ']);
  assert.deepEqual(passed(['{"a":1,', "]"]), ['{"a":1', ""]);
});

Deno.test("ObjectPrefix stops at the first character JSON's grammar refuses, and what it passed on can be completed", () => {
  const cases: Array<[string, string]> = [
    ['{"file_path" "/a"}', '{"file_path" '], // a missing colon
    ['{"a":"x\\q"}', '{"a":"x'], // an escape JSON has not (its backslash held, then dropped)
    ['{"a":"\\u12G4"}', '{"a":"'],
    ['{"a":"x\ty"}', '{"a":"x'], // a raw control character
    ['{"a":01}', '{"a":0'],
    ['{"a":1.}', '{"a":1.'],
    ['{"a":[1 2]}', '{"a":[1 '],
    ['{"a":tru e}', '{"a":tru'],
    ['{"a":nope}', '{"a":n'],
    ['{"a" : [true, -1.5e+3, null, {"b": []}], "c": "\\u00e9\\n"}  ', ""],
    // Trailing commas are no break: they are not passed on.
    ['{"a":1,}', '{"a":1}'],
    // (A held comma goes with the blanks after it.)
    ['{"a":[1, 2 ,\n], "b":"x,",\n}', '{"a":[1, 2 ], "b":"x,"}'],
  ];
  for (const [text, expected] of cases) {
    const p = new ObjectPrefix();
    // One character at a time, as a server may stream them.
    let taken = "";
    for (const ch of text) {
      taken += p.pass(ch);
      if (p.refused) break;
    }
    assert.equal(taken, expected || text, text);
    assert.notEqual(jsonCompletion(taken), undefined, `${taken} can be completed`);
    assert.equal(p.accept('"}'), 0, "nothing is taken after a break or the end");
  }
});

Deno.test("ObjectPrefix holds an escape back until it is whole, so a cut one is never completed into a character", () => {
  const passed = (...pieces: string[]) => {
    const p = new ObjectPrefix();
    return pieces.map((piece) => p.pass(piece)).join("");
  };
  // Whole in the end, however it was cut: the same text as sent.
  assert.equal(passed('{"a":"x\\u00', "e9", 'y"}'), '{"a":"x\\u00e9y"}');
  assert.equal(passed('{"a":"x\\', "u", "0", "0e9", '"}'), '{"a":"x\\u00e9"}');
  assert.equal(passed('{"a":"x\\', 'n"}'), '{"a":"x\\n"}');
  // Cut off (the answer hit its limit): what went on completes without it.
  for (const cut of ['{"content":"abc\\u00', '{"content":"abc\\', '{"content":"abc\\u']) {
    const sent = passed(cut);
    assert.equal(sent, '{"content":"abc');
    assert.deepEqual(JSON.parse(sent + jsonCompletion(sent)), { content: "abc" });
  }
  // An escape the next piece breaks is not passed on either.
  assert.equal(passed('{"a":"x\\u0', "zz"), '{"a":"x');
});

Deno.test("ObjectPrefix takes a model's run of 100,000 digits a step per digit, and still refuses a bad one", () => {
  const p = new ObjectPrefix();
  const digits = "1".repeat(100_000);
  const started = performance.now();
  assert.equal(p.pass(`{"n":${digits}`), `{"n":${digits}`);
  assert.equal(p.pass(".5e-3"), ".5e-3");
  assert.equal(p.pass("x"), "");
  assert.equal(p.refused, "x");
  // Tested again from its start at each digit, it took seconds for 40,000.
  assert.ok(performance.now() - started < 2_000);
});

Deno.test("ObjectPrefix drops 40,000 trailing commas of one piece, each where it stood", () => {
  const p = new ObjectPrefix();
  const items = Array.from({ length: 40_000 }, () => "[1,]").join(",");
  const taken = p.pass(`{"a":[${items}]}`);
  assert.equal(taken, `{"a":[${Array.from({ length: 40_000 }, () => "[1]").join(",")}]}`);
  assert.equal(JSON.parse(taken).a.length, 40_000);
});
