import assert from "node:assert/strict";
import { errorTypeForStatus, statusForErrorType } from "../../lib/errors.ts";

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
