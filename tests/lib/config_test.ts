import assert from "node:assert/strict";
import { ConfigError, mergeEnv, parseConfig, parseDotEnv } from "../../lib/config.ts";

Deno.test("config: no settings at all gives the documented defaults", () => {
  const c = parseConfig({});
  assert.equal(c.port, 3000);
  assert.equal(c.hostname, "0.0.0.0");
  assert.equal(c.kvPath, "./data/proxy.kv");
  assert.equal(c.loadBalanceStrategy, "failover");
  assert.equal(c.requestTimeout, 600_000);
  assert.equal(c.maxConcurrentRequests, 100);
  assert.equal(c.maxBodySize, 33_554_432);
  assert.equal(c.enableCors, true);
  assert.equal(c.corsOrigin, "*");
  assert.equal(c.enableRateLimit, false);
  assert.equal(c.healthCheckPath, "/health");
  assert.equal(c.proxyAccessKey, undefined);
  assert.equal(c.adminPassword, undefined);
  assert.equal(c.requestLogMax, 10_000);
});

Deno.test("config: a bad value names the variable", () => {
  assert.throws(() => parseConfig({ PORT: "abc" }), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /PORT/);
    return true;
  });
  assert.throws(
    () => parseConfig({ LOAD_BALANCE_STRATEGY: "fastest", LOG_LEVEL: "loud" }),
    (err) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.problems.length, 2);
      assert.match(err.message, /LOAD_BALANCE_STRATEGY/);
      assert.match(err.message, /LOG_LEVEL/);
      return true;
    },
  );
  assert.throws(() => parseConfig({ ENABLE_CORS: "maybe" }), /ENABLE_CORS/);
});

Deno.test("config: a key or password no HTTP header can carry is refused at start, without repeating it", () => {
  for (
    const [name, value] of [
      ["PROXY_ACCESS_KEY", " spaced-key "],
      ["PROXY_ACCESS_KEY", "clé-secrète"],
      ["ADMIN_PASSWORD", "pass word "],
      ["ADMIN_PASSWORD", "pässwörd-€"],
      ["METRICS_TOKEN", "tok\tn"],
    ]
  ) {
    assert.throws(() => parseConfig({ [name]: value }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, new RegExp(`${name}: must be printable ASCII`));
      assert.ok(!err.message.includes(value.trim()), err.message);
      return true;
    }, `${name}=${JSON.stringify(value)}`);
  }
  const ok = parseConfig({ PROXY_ACCESS_KEY: "sk-proxy_1.2~x", ADMIN_PASSWORD: "a pass phrase!" });
  assert.equal(ok.adminPassword, "a pass phrase!");
});

Deno.test("config: .env syntax with quotes, comments and export", () => {
  const vars = parseDotEnv([
    "# comment",
    "PORT=8080",
    'PROXY_ACCESS_KEY="with spaces # not a comment"',
    "export LOG_LEVEL=debug # trailing comment",
    "EMPTY=",
    "garbage line",
  ].join("\n"));
  assert.deepEqual(vars, {
    PORT: "8080",
    PROXY_ACCESS_KEY: "with spaces # not a comment",
    LOG_LEVEL: "debug",
    EMPTY: "",
  });
  const c = parseConfig(vars);
  assert.equal(c.port, 8080);
  assert.equal(c.logLevel, "debug");
});

Deno.test("config: upstreams are called with the own HTTP/1.1 client unless a proxy or Deploy needs fetch", () => {
  assert.equal(parseConfig({}).upstreamClient, "http1");
  assert.equal(parseConfig({ UPSTREAM_CLIENT: "fetch" }).upstreamClient, "fetch");
  for (const name of ["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy"]) {
    assert.equal(parseConfig({ [name]: "http://proxy:3128" }).upstreamClient, "fetch", name);
  }
  assert.equal(parseConfig({ DENO_DEPLOYMENT_ID: "abc" }).upstreamClient, "fetch");
  assert.throws(() => parseConfig({ UPSTREAM_CLIENT: "curl" }), /UPSTREAM_CLIENT/);
});

Deno.test("config: .env.example, copied as it is, is a valid configuration", () => {
  const text = Deno.readTextFileSync(new URL("../../.env.example", import.meta.url));
  const vars = parseDotEnv(text);
  assert.ok(Object.keys(vars).length > 20, "it lists the settings");
  assert.doesNotThrow(() => parseConfig(vars));
});

Deno.test("config: an empty value is unset, for every variable alike", () => {
  const defaults = parseConfig({});
  const names = Object.keys(parseDotEnv(
    Deno.readTextFileSync(new URL("../../.env.example", import.meta.url)),
  ));
  for (const name of names) {
    for (const empty of ["", "  "]) {
      assert.deepEqual(parseConfig({ [name]: empty }), defaults, `${name}="${empty}"`);
    }
  }
  // As an empty line in .env.
  const fromFile = parseDotEnv("ENABLE_CORS=\nLOG_LEVEL=\nHOSTNAME=\nCORS_ORIGIN=\nKV_PATH=\n");
  assert.deepEqual(parseConfig(fromFile), defaults);
});

Deno.test("config: an empty real variable does not hide the value .env gives", () => {
  const vars = mergeEnv({ PORT: "8080", LOG_LEVEL: "debug" }, { PORT: "", LOG_LEVEL: "warn" });
  assert.deepEqual(vars, { PORT: "8080", LOG_LEVEL: "warn" });
});

Deno.test("config: booleans take true/false, 1/0, yes/no, on/off in any case", () => {
  for (const yes of ["true", "TRUE", "True", "1", "yes", "Yes", "on", "ON", " true "]) {
    assert.equal(parseConfig({ ENABLE_CORS: yes, ENABLE_RATE_LIMIT: yes }).enableRateLimit, true);
    assert.equal(parseConfig({ ENABLE_CORS: yes }).enableCors, true, yes);
  }
  for (const no of ["false", "FALSE", "0", "no", "NO", "off", "Off"]) {
    assert.equal(parseConfig({ ENABLE_CORS: no }).enableCors, false, no);
    assert.equal(parseConfig({ HEALTH_CHECK_ENABLED: no }).healthCheckEnabled, false, no);
  }
  for (const bad of ["maybe", "enabled", "2", "y"]) {
    assert.throws(() => parseConfig({ ENABLE_REQUEST_LOGS: bad }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /ENABLE_REQUEST_LOGS: must be true or false/);
      assert.ok(err.message.includes(`(got "${bad}")`));
      return true;
    });
  }
});

/** The problems parseConfig reports for these variables, or [] when it accepts them. */
function problemsOf(vars: Record<string, string>): string[] {
  try {
    parseConfig(vars);
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
}

Deno.test("config: a timeout past what a timer can hold is refused, not turned into 1 ms", () => {
  // setTimeout fires at once for more than 2^31-1 ms: every request would time out instantly.
  for (const name of ["REQUEST_TIMEOUT", "STREAM_PING_INTERVAL"]) {
    const problems = problemsOf({ [name]: "3000000000" });
    assert.equal(problems.length, 1, name);
    assert.match(problems[0], new RegExp(`^${name}: must be at most 2147483647`));
  }
  assert.equal(parseConfig({ REQUEST_TIMEOUT: "2147483647" }).requestTimeout, 2_147_483_647);
  // Deno KV refuses an expiry this far away: every request log write would fail.
  assert.match(problemsOf({ REQUEST_LOG_TTL_HOURS: "2500000000" })[0], /^REQUEST_LOG_TTL_HOURS: /);
});

Deno.test("config: numbers are written in plain digits: hex or exponents are refused, not read", () => {
  for (const [name, value] of [["PORT", "0x10"], ["REQUEST_TIMEOUT", "1e3"], ["PORT", "30_00"]]) {
    assert.match(problemsOf({ [name]: value })[0] ?? "", new RegExp(`^${name}: must be a whole`));
  }
  assert.equal(parseConfig({ PORT: " 8080 " }).port, 8080);
});

Deno.test("config: CORS_ORIGIN is * or a list of origins; one a browser never sends is refused", () => {
  assert.deepEqual(problemsOf({ CORS_ORIGIN: "https://a.example, http://localhost:5173" }), []);
  assert.deepEqual(problemsOf({ CORS_ORIGIN: "https://a.example,null" }), []);
  for (const bad of ["https://a.example/", "a.example", "https://a.example/app", "*, https://a"]) {
    const problems = problemsOf({ CORS_ORIGIN: bad });
    assert.equal(problems.length, 1, bad);
    assert.match(problems[0], /^CORS_ORIGIN: /, bad);
  }
  assert.match(problemsOf({ CORS_ORIGIN: "https://a.example/" })[0], /https:\/\/a\.example\b[^/]/);
});

Deno.test("config: HEALTH_CHECK_PATH may not take over a path the proxy serves itself", () => {
  assert.equal(parseConfig({ HEALTH_CHECK_PATH: "/healthz" }).healthCheckPath, "/healthz");
  assert.equal(parseConfig({ HEALTH_CHECK_PATH: "/ops/health" }).healthCheckPath, "/ops/health");
  for (
    const bad of [
      "/",
      "/admin",
      "/admin/x",
      "/v1/health",
      "/metrics",
      "/static/x",
      "/api/hello",
      "/:any",
      "/*",
    ]
  ) {
    const problems = problemsOf({ HEALTH_CHECK_PATH: bad });
    assert.equal(problems.length, 1, bad);
    assert.match(problems[0], /^HEALTH_CHECK_PATH: /, bad);
  }
});

Deno.test("config: a quoted .env value followed by a comment is the text inside the quotes", () => {
  const vars = parseDotEnv([
    'PROXY_ACCESS_KEY="sk-proxy-key-123" # what Claude Code sends',
    "ADMIN_PASSWORD='a long password'   # for /admin",
    'CORS_ORIGIN="https://a.example" #no space before the word',
    'METRICS_TOKEN="has # inside"',
    'LOG_LEVEL="debug"',
    'KV_PATH="a"b"',
  ].join("\n"));
  assert.deepEqual(vars, {
    PROXY_ACCESS_KEY: "sk-proxy-key-123",
    ADMIN_PASSWORD: "a long password",
    CORS_ORIGIN: "https://a.example",
    METRICS_TOKEN: "has # inside",
    LOG_LEVEL: "debug",
    KV_PATH: 'a"b',
  });
});
