import assert from "node:assert/strict";
import { errorTypeForStatus, statusForErrorType, tooDeep } from "../../lib/errors.ts";

Deno.test("an error type names its Anthropic status; an unknown one is a 500", () => {
  assert.equal(statusForErrorType("rate_limit_error"), 429);
  assert.equal(statusForErrorType("overloaded_error"), 529);
  assert.equal(statusForErrorType(undefined), 500);
  // An upstream's error event decides the type: names every object has are unknown too.
  for (const type of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
    assert.equal(statusForErrorType(type), 500, type);
  }
  assert.equal(errorTypeForStatus(418), "invalid_request_error");
});

Deno.test("a walk that runs out of stack is the client's 400 saying so; other errors are not", () => {
  // No request reaches one today (tests/routes/bad_input_test.ts): this keeps the mapping honest.
  let overflow: unknown;
  const down = (n: number): number => down(n + 1) + 1;
  try {
    down(0);
  } catch (err) {
    overflow = err;
  }
  const e = tooDeep(overflow);
  assert.equal(e?.status, 400);
  assert.equal(e?.type, "invalid_request_error");
  assert.equal(e?.message, "The request is nested too deeply to process");
  assert.equal(tooDeep(new RangeError("Invalid array length")), undefined);
  assert.equal(tooDeep(new TypeError("Maximum call stack size exceeded")), undefined);
});
