import assert from "node:assert/strict";
import { ConfigError, parseConfig, parseDotEnv } from "../../lib/config.ts";

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
