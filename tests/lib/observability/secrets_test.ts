// Secrets sent in bodies, headers, model names and upstream error messages never reach a log line,
// a request log entry, a usage counter, an admin page, the CSV or /metrics.
import assert from "node:assert/strict";
import { Hono } from "hono";
import type { AdminEnv } from "../../../routes/admin/session.ts";
import { ACCESS_KEY, ADMIN_PASSWORD, startTestServer } from "../../helpers/server.ts";
import { logsRoutes } from "../../../routes/admin/logs.ts";
import { UsagePanel } from "../../../views/usage_panel.tsx";
import { dashboardUsage } from "../../../routes/admin/dashboard.ts";
import { errorReply, messageReply, startAnthropicFake } from "./anthropic_fake.ts";

const BAD_KEY = "sk-ant-api03-BADKEY-0123456789abcdefXYZ";
const GOOD_KEY = "sk-ant-api03-GOODKEY-0123456789abcdefXYZ";
const METRICS_TOKEN = "metrics-token-0123456789-secret";
/** Keys the proxy does not know, recognised by their shape. */
const STRANGERS = ["sk-proj-StrangerKey0123456789abcdef", "AIzaSyStrangerKey0123456789abcdefghij"];
const HEADER_TOKEN = "zz-header-token-0123456789";
const SECRETS = [
  BAD_KEY,
  GOOD_KEY,
  ACCESS_KEY,
  ADMIN_PASSWORD,
  METRICS_TOKEN,
  ...STRANGERS,
  HEADER_TOKEN,
];

const PROMPT = [
  `my upstream keys are ${BAD_KEY} and ${GOOD_KEY}`,
  `the proxy key is ${ACCESS_KEY}, the admin password ${ADMIN_PASSWORD}`,
  `metrics token ${METRICS_TOKEN}; stray keys ${STRANGERS.join(" ")}`,
  `curl -H "Authorization: Bearer ${HEADER_TOKEN}" -H 'x-api-key: ${HEADER_TOKEN}'`,
].join("\n");

/** Signs in to the admin pages; returns a GET that carries the session cookie. */
async function signIn(url: string): Promise<(path: string) => Promise<Response>> {
  const jar = new Map<string, string>();
  const keep = (res: Response) => {
    for (const c of res.headers.getSetCookie()) {
      const pair = c.split(";")[0];
      jar.set(pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1));
    }
  };
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
  const login = await fetch(`${url}/admin/login`);
  keep(login);
  const csrf = (await login.text()).match(/name="_csrf" value="([^"]+)"/)![1];
  const res = await fetch(`${url}/admin/login`, {
    method: "POST",
    headers: { cookie: cookie(), origin: url },
    body: new URLSearchParams({ _csrf: csrf, password: ADMIN_PASSWORD }),
    redirect: "manual",
  });
  keep(res);
  await res.body?.cancel();
  assert.equal(res.status, 303, "signed in");
  return (path) => fetch(url + path, { headers: { cookie: cookie() }, redirect: "manual" });
}

function leaks(haystack: string): string[] {
  return SECRETS.filter((s) => haystack.includes(s));
}

Deno.test("no secret reaches logs, log entries, counters, pages or metrics", async () => {
  // The upstream echoes the prompt back, and rejects the bad key quoting it, as some APIs do.
  const fake = startAnthropicFake((body, apiKey) =>
    apiKey === BAD_KEY
      ? errorReply(401, "authentication_error", `invalid x-api-key ${apiKey}`)
      : messageReply(`you said: ${JSON.parse(body).messages[0].content}`)
  );
  const server = await startTestServer({
    env: {
      ENABLE_REQUEST_LOGS: "true",
      ENABLE_RESPONSE_LOGS: "true",
      METRICS_TOKEN,
      LOG_FORMAT: "json",
    },
    config: {
      upstream: [{
        name: "main",
        baseUrl: fake.url,
        serviceType: "anthropic",
        apiKeys: [BAD_KEY, GOOD_KEY],
      }],
      loadBalance: "failover",
    },
  });
  try {
    const send = async (
      body: Record<string, unknown>,
      auth: Record<string, string> = { "x-api-key": ACCESS_KEY },
    ) => {
      const res = await fetch(`${server.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", ...auth },
        body: JSON.stringify({
          max_tokens: 16,
          messages: [{ role: "user", content: PROMPT }],
          ...body,
        }),
      });
      await res.text();
      assert.equal(res.status, 200);
      return res.headers.get("request-id")!;
    };
    const ids = [
      await send({ model: "claude-sonnet-4-5" }),
      await send({ model: "claude-sonnet-4-5", stream: true }),
      await send({ model: `claude-${ADMIN_PASSWORD}` }),
      await send({ model: "claude-haiku-4-5" }, { authorization: `Bearer ${ACCESS_KEY}` }),
    ];
    const obs = server.services.observability;
    await obs.flush();

    // The bodies were recorded, masked.
    const first = (await obs.requestLog.get(ids[0]))!;
    assert.ok(first.requestBody?.includes("[REDACTED]"), "request body kept, masked");
    assert.ok(first.responseBody?.includes("you said"), "response body kept");
    assert.equal(first.attempts[0].outcome, "failed");
    assert.ok(first.attempts[0].reason, "the upstream's complaint is kept, masked");
    // The streamed echo came a few characters an event: joined, its text shows no secret either.
    const streamed = (await obs.requestLog.get(ids[1]))!;
    const said = [...streamed.responseBody!.matchAll(/"text":"((?:[^"\\]|\\.)*)"/g)]
      .map((m) => JSON.parse(`"${m[1]}"`)).join("");
    assert.match(said, /you said/);
    assert.deepEqual(leaks(said), [], "secrets in the streamed answer's text, joined");

    const seen: Record<string, string> = {};
    seen["log lines"] = server.logs.join("\n");
    // LOG_FORMAT=json: one object per line.
    for (const line of server.logs) assert.equal(typeof JSON.parse(line).msg, "string");
    assert.ok(seen["log lines"].includes(ids[0]));

    let kvText = "";
    for (
      const prefix of [
        "request_log",
        "request_log_meta",
        "usage",
        "usage_minute",
      ]
    ) {
      for await (const e of server.kv.list({ prefix: [prefix] })) {
        kvText += JSON.stringify(e.key) + " " +
          JSON.stringify(e.value, (_, v) => typeof v === "bigint" ? String(v) : v) + "\n";
      }
    }
    seen["KV"] = kvText;
    assert.ok(kvText.includes(ids[3]));

    const pages = new Hono<AdminEnv>();
    pages.route("/admin/logs", logsRoutes(server.services));
    pages.get(
      "/panel",
      async (c) => c.html(UsagePanel({ report: (await dashboardUsage(server.services)).usage })),
    );
    const paths = [
      "/admin/logs",
      "/admin/logs/rows?live=1",
      "/admin/logs/rows?errors=1",
      "/admin/logs/rows?model=claude",
      "/admin/logs/usage.csv?bucket=hour",
      "/admin/logs/usage.csv?bucket=day",
      "/panel",
      ...ids.map((id) => `/admin/logs/${id}`),
    ];
    for (const path of paths) {
      const res = await pages.request(path);
      assert.equal(res.status, 200, path);
      seen[path] = await res.text();
    }
    assert.ok(seen[`/admin/logs/${ids[0]}`].includes("[REDACTED]"));

    // The same pages where the admin mounts them, behind a real sign-in, dashboard included.
    const browse = await signIn(server.url);
    for (const path of ["/admin", "/admin/logs", `/admin/logs/${ids[1]}`]) {
      const res = await browse(path);
      assert.equal(res.status, 200, path);
      seen[`signed in ${path}`] = await res.text();
    }
    assert.match(seen["signed in /admin"], /Usage, last 24 hours/);
    assert.match(seen["signed in /admin/logs"], new RegExp(ids[3]));
    const anonymous = await fetch(`${server.url}/admin/logs`, { redirect: "manual" });
    await anonymous.body?.cancel();
    assert.equal(anonymous.status, 303, "the log is behind the admin sign-in");

    const metrics = await fetch(`${server.url}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    assert.equal(metrics.status, 200);
    seen["/metrics"] = await metrics.text();
    assert.match(seen["/metrics"], /claude_proxy_requests_total\{/);

    for (const [where, text] of Object.entries(seen)) {
      assert.deepEqual(leaks(text), [], `secrets in ${where}`);
    }
  } finally {
    await server.services.observability.flush();
    await server.close();
    await fake.close();
  }
});
