import assert from "node:assert/strict";
import { createLogger, type Level, type StartupLine } from "../../lib/log.ts";

const STARTUP: StartupLine[] = [
  {
    level: "info",
    message: "Claude API proxy listening on http://localhost:3000",
    fields: { url: "http://localhost:3000" },
  },
  { level: "info", message: "store: ./data/proxy.kv" },
  { level: "warn", message: "ADMIN_PASSWORD is not set: the admin pages at /admin are disabled" },
];

function capture(format: "text" | "json", logLevel: Level = "error") {
  const lines: Array<[string, Level]> = [];
  const log = createLogger(
    { logFormat: format, logLevel },
    (line, level) => lines.push([line, level]),
  );
  return { log, lines };
}

Deno.test("log: start-up lines in text are one indented block, shown at any LOG_LEVEL", () => {
  const { log, lines } = capture("text");
  log.log("info", "hidden below error");
  log.announce(STARTUP);
  assert.deepEqual(lines, [[
    [
      "Claude API proxy listening on http://localhost:3000",
      "  store: ./data/proxy.kv",
      "  !! ADMIN_PASSWORD is not set: the admin pages at /admin are disabled",
    ].join("\n"),
    "info",
  ]]);
});

Deno.test("log: start-up lines in JSON are one object per line, with their level and fields", () => {
  const { log, lines } = capture("json");
  log.addSecret("./data/proxy.kv");
  log.announce(STARTUP);
  assert.equal(lines.length, 3);
  const parsed = lines.map(([line]) => JSON.parse(line));
  assert.deepEqual(parsed.map((p) => [p.level, p.msg]), [
    ["info", "Claude API proxy listening on http://localhost:3000"],
    ["info", "store: [REDACTED]"],
    ["warn", "ADMIN_PASSWORD is not set: the admin pages at /admin are disabled"],
  ]);
  assert.equal(parsed[0].url, "http://localhost:3000");
  assert.ok(parsed.every((p) => !Number.isNaN(Date.parse(p.time))));
  assert.deepEqual(lines.map(([, level]) => level), ["info", "info", "warn"]);
});

Deno.test("log: control characters a client sent (terminal escapes) are written escaped", () => {
  // A requested model name reaches the request's log line as the client wrote it.
  const model = "claude\x1b[2J\x1b]0;owned\x07\x9b31m\x7f";
  for (const format of ["text", "json"] as const) {
    const { log, lines } = capture(format, "info");
    log.log("info", "/v1/messages 200", { model });
    const [line] = lines[0];
    assert.doesNotMatch(line, /\p{Cc}/u, `${format}: ${JSON.stringify(line)}`);
    if (format === "json") assert.equal(JSON.parse(line).model, model);
    else assert.equal(JSON.parse(line.slice(line.indexOf("model=") + 6)), model);
  }
});
