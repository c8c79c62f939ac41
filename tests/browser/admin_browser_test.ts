// The admin pages in real headless Chromium: sign in, add an OpenAI-style upstream pointing at a
// fake, paste three keys, choose round-robin, make it current; then three client requests reach
// the fake with the three keys in turn. A screenshot of each page lands in tests/output/screenshots.
import assert from "node:assert/strict";
import { chromium, type Page } from "playwright-core";
import { startFakeOpenAI } from "../fakes/openai_upstream.ts";
import { ACCESS_KEY, ADMIN_PASSWORD, startTestServer } from "../helpers/server.ts";
import { LoginPage } from "../../views/login_page.tsx";
import { healthId } from "../../lib/key_pool.ts";

const CHROMIUM = "/usr/bin/chromium";
const SHOTS = new URL("../output/screenshots/", import.meta.url).pathname;
const KEYS = [
  "sk-proj-browser-key-one-000000000001",
  "sk-proj-browser-key-two-000000000002",
  "sk-proj-browser-key-three-0000000003",
];

function hasChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true });
}

Deno.test({
  name: "admin in a real browser: configure an upstream, then clients use its keys in turn",
  ignore: !hasChromium(),
  async fn() {
    await Deno.mkdir(SHOTS, { recursive: true });
    const fake = await startFakeOpenAI();
    const server = await startTestServer({
      config: {
        upstream: [{
          name: "anthropic-direct",
          baseUrl: "https://api.anthropic.com",
          serviceType: "anthropic",
          apiKeys: ["sk-ant-api03-existing-key-0000000009"],
        }],
        currentUpstream: 0,
        loadBalance: "failover",
      },
    });
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    const problems: string[] = [];
    try {
      const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
      const page = await context.newPage();
      page.on("console", (m) => {
        const text = m.text();
        if (m.type() !== "error") return;
        // The browser reports every 4xx; these are the ones the scenario provokes on purpose.
        if (/Failed to load resource: .* status of (401|422)/.test(text)) return;
        problems.push(`${page.url()}: ${text}`);
      });
      page.on("pageerror", (e) => problems.push(`${page.url()}: ${e.message}`));
      const url = server.url;

      // Signing in: a wrong password first, then the right one.
      await page.goto(`${url}/admin`);
      assert.match(page.url(), /\/admin\/login\?next=%2Fadmin$/);
      await page.getByLabel("Admin password").fill("not it");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByText("Wrong password.").waitFor();
      await shot(page, "01_login_error");
      await page.getByLabel("Admin password").fill(ADMIN_PASSWORD);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("heading", { name: "Dashboard" }).waitFor();
      await shot(page, "02_dashboard_before");

      // Add the upstream; a bad URL is caught inline first (htmx swaps only the form).
      await page.getByRole("link", { name: "Upstreams", exact: true }).click();
      await page.getByRole("heading", { name: "Upstreams" }).waitFor();
      await page.getByRole("link", { name: "Add upstream" }).click();
      await page.getByRole("heading", { name: "Add upstream" }).waitFor();
      await page.getByLabel("Name").fill("fake-openai");
      await page.getByLabel("Kind").selectOption("openai");
      await page.getByLabel("Base URL").fill("localhost-no-scheme");
      await page.getByLabel("Row 1: requested model or family").fill("sonnet");
      await page.getByLabel("Row 1: upstream model").fill("gpt-4o");
      await page.getByLabel("Default upstream model (optional)").fill("gpt-4o-mini");
      await page.getByRole("button", { name: "Add upstream" }).click();
      await page.locator("#f-baseUrl-error").waitFor();
      assert.match(await page.locator("#f-baseUrl-error").innerText(), /must be an http\(s\) URL/);
      assert.equal(await page.getByLabel("Name").inputValue(), "fake-openai", "input kept");
      await shot(page, "03_upstream_form_error");
      await page.getByLabel("Base URL").fill(fake.url);
      await page.getByRole("button", { name: "Add upstream" }).click();

      // Keys: three pasted at once (with a blank line and a repeat, reported).
      await page.getByRole("heading", { name: /Keys of fake-openai/ }).waitFor();
      assert.match(page.url(), /\/admin\/upstreams\/fake-openai\/keys$/);
      await page.getByLabel("Add keys").fill(`${KEYS[0]}\n\n${KEYS[1]}, ${KEYS[2]}\n${KEYS[0]}`);
      await page.getByRole("button", { name: "Add keys" }).click();
      await page.getByText("Added 3 keys. Ignored 1 duplicate and 1 blank entry.").waitFor();
      assert.equal(await page.locator("table.keys tbody tr").count(), 3);
      const html = await page.content();
      for (const key of KEYS) assert.ok(!html.includes(key), "keys are shown masked");
      // A refused paste next: its error in the form, and the earlier success notice gone.
      await page.getByLabel("Add keys").fill("sk-naïve-key-000000001");
      await page.getByRole("button", { name: "Add keys" }).click();
      await page.getByText("Line 1: a key must be printable ASCII").waitFor();
      assert.equal(await page.getByText("Added 3 keys.").count(), 0, "no stale success notice");
      await page.getByLabel("Add keys").fill("");

      // Disable and re-enable a key in place (a row fragment).
      const row = page.locator("table.keys tbody tr").nth(1);
      await row.getByRole("button", { name: "Disable" }).click();
      await row.getByText("admin: disabled by hand").waitFor();
      await shot(page, "04_keys");
      await row.getByRole("button", { name: "Enable" }).click();
      await row.getByText("active").waitFor();

      // Strategy: round-robin.
      await page.getByRole("link", { name: "Strategy" }).click();
      await page.getByRole("heading", { name: "Key strategy" }).waitFor();
      await page.getByLabel(/round-robin/).check();
      await page.getByRole("button", { name: "Save strategy" }).click();
      await page.getByText("Strategy set to round-robin.").waitFor();
      await shot(page, "05_strategy");

      // Make it current.
      await page.getByRole("link", { name: "Upstreams", exact: true }).click();
      const newRow = page.locator("tr", { hasText: "fake-openai" });
      await newRow.getByRole("button", { name: "Make current" }).click();
      await page.getByText("“fake-openai” now serves every request.").waitFor();
      await shot(page, "06_upstreams");
      const doc = server.services.store.snapshot.doc;
      assert.equal(doc.upstream[doc.currentUpstream].name, "fake-openai");
      assert.equal(doc.loadBalance, "round-robin");
      assert.deepEqual(doc.upstream[1].apiKeys, KEYS);

      // Three client requests: the three keys in turn.
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${url}/v1/messages`, {
          method: "POST",
          headers: {
            "x-api-key": ACCESS_KEY,
            "anthropic-version": "2023-06-01",
            "content-type": "application/json",
          },
          body: JSON.stringify({
            model: "claude-sonnet-4-5",
            max_tokens: 64,
            messages: [{ role: "user", content: `hello ${i}` }],
          }),
        });
        assert.equal(res.status, 200, await res.clone().text());
        const body = await res.json();
        assert.equal(body.type, "message");
      }
      const sent = fake.requests.filter((r) => r.path.endsWith("/chat/completions"));
      assert.deepEqual(
        sent.map((r) => r.headers.get("authorization")),
        KEYS.map((k) => `Bearer ${k}`),
      );
      assert.ok(sent.every((r) => r.body.model === "gpt-4o"), "sonnet mapped to gpt-4o");

      // The other pages, for the record.
      await page.getByRole("link", { name: "Dashboard" }).click();
      await page.getByRole("heading", { name: "Dashboard" }).waitFor();
      assert.match(
        await page.locator("pre.snippet").innerText(),
        /"ANTHROPIC_BASE_URL": "http:\/\/127\.0\.0\.1:\d+"/,
      );
      await shot(page, "07_dashboard_after");
      await page.getByRole("link", { name: "Import / export" }).click();
      await page.getByRole("heading", { name: "Import / export" }).waitFor();
      await shot(page, "08_transfer");
      const edited = structuredClone(server.services.store.snapshot.doc);
      edited.upstream[1].description = "local fake for the browser test";
      edited.upstream.push({
        name: "spare",
        baseUrl: "https://api.deepseek.com",
        serviceType: "custom",
        apiKeys: ["sk-spare-key-000000000000004"],
      });
      await page.getByLabel("Or paste the JSON").fill(JSON.stringify(edited));
      await page.getByRole("button", { name: "Preview the import" }).click();
      await page.getByRole("heading", { name: "What the import changes" }).waitFor();
      assert.match(page.url(), /\/admin\/transfer$/, "the preview has no address of its own");
      const preview = await page.locator("#import-preview").innerText();
      assert.match(preview, /spare: added/);
      assert.match(preview, /fake-openai: changes description/);
      assert.match(preview, /Keys: 4 → 5/);
      await shot(page, "08b_import_preview");
      await page.getByRole("button", { name: "Apply the import" }).click();
      await page.getByText("Configuration imported: 1 added, 0 removed, 1 changed.").waitFor();
      assert.equal(server.services.store.snapshot.doc.upstream.length, 3);
      await page.goto(`${url}/admin/upstreams/fake-openai`);
      await shot(page, "09_upstream_edit");
      await page.goto(`${url}/admin/upstreams/anthropic-direct/delete`);
      await shot(page, "10_delete_confirm");
      await page.getByRole("link", { name: "Logs" }).click();
      await page.waitForURL(/\/admin\/logs/);
      await shot(page, "11_logs");
      // A filter, a row's detail, then Back: the filter's controls show it still, and the next
      // change keeps it.
      await page.getByLabel("Upstream").selectOption("fake-openai");
      await page.waitForURL(/upstream=fake-openai/);
      await page.locator("table.log-table a").first().click();
      await page.waitForURL(/\/admin\/logs\/req_/);
      await page.goBack();
      await page.waitForURL(/\/admin\/logs\?upstream=fake-openai/);
      await page.locator("#log-rows").waitFor();
      assert.equal(await page.getByLabel("Upstream").inputValue(), "fake-openai");
      await page.getByLabel("errors only").check();
      await page.waitForURL(/errors=1/);
      assert.match(page.url(), /upstream=fake-openai/);
      // Enter in the model box: one history entry, so one Back undoes it.
      await page.getByLabel("Model").fill("gpt");
      await page.getByLabel("Model").press("Enter");
      await page.waitForURL(/model=gpt/);
      await page.goBack();
      await page.waitForURL((u) => !u.search.includes("model=") && u.search.includes("errors=1"));

      // On a phone.
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto(`${url}/admin/upstreams`);
      await shot(page, "12_upstreams_phone");
      await page.goto(`${url}/admin/upstreams/fake-openai/keys`);
      await shot(page, "13_keys_phone");
      // The narrowest common phone: nothing may widen the page past the screen.
      await page.setViewportSize({ width: 360, height: 780 });
      await page.goto(`${url}/admin/logs`);
      const detail = await page.locator("table.log-table a").first().getAttribute("href");
      for (const path of ["/admin", "/admin/transfer", "/admin/logs", detail!]) {
        await page.goto(url + path);
        const width = await page.locator("html").evaluate((el) => el.scrollWidth);
        assert.ok(width <= 360, `${path} is ${width} px wide on a 360 px screen`);
      }
      await shot(page, "14_log_detail_phone");

      // Signing out ends the session.
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.getByLabel("Admin password").waitFor();
      await page.goto(`${url}/admin/upstreams`);
      assert.match(page.url(), /\/admin\/login/);
      await context.close();
    } finally {
      await browser.close();
      await server.close();
      await fake.close();
    }
    assert.deepEqual(problems, [], "no script errors or blocked resources");
  },
});

Deno.test({
  name:
    "admin in a real browser: a stale form, a session ended elsewhere and an answer too large are each said, never swapped into a row",
  ignore: !hasChromium(),
  async fn() {
    const server = await startTestServer({
      config: {
        upstream: [{
          name: "alpha",
          baseUrl: "https://api.openai.com",
          serviceType: "openai",
          apiKeys: KEYS.slice(0, 2),
        }],
      },
    });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    const problems: string[] = [];
    try {
      const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
      const page = await context.newPage();
      const other = await context.newPage();
      for (const p of [page, other]) {
        p.on("pageerror", (e) => problems.push(`${p.url()}: ${e.message}`));
      }
      const signIn = async (p: Page) => {
        await p.getByLabel("Admin password").fill(ADMIN_PASSWORD);
        await p.getByRole("button", { name: "Sign in" }).click();
      };
      const url = server.url;
      await page.goto(`${url}/admin/upstreams/alpha/keys`);
      await signIn(page);
      await page.getByRole("heading", { name: /Keys of alpha/ }).waitFor();

      // Signed out and in again in another tab: the first tab's form token is stale.
      await other.goto(`${url}/admin`);
      await other.getByRole("button", { name: "Sign out" }).click();
      await signIn(other);
      await other.getByRole("heading", { name: "Dashboard" }).waitFor();
      await page.locator("table.keys tbody tr").first().getByRole("button", { name: "Disable" })
        .click();
      await page.getByRole("heading", { name: "Form refused" }).waitFor();
      assert.equal(await page.locator("table.keys").count(), 0, "the refusal took the page");
      assert.equal(server.services.health.list().length, 0, "no key was disabled");

      // The session ends while the admin edits: signing in again leads back to the form.
      await page.goto(`${url}/admin/upstreams/alpha`);
      await other.getByRole("button", { name: "Sign out" }).click();
      await page.getByLabel("Description (optional)").fill("edited");
      await page.getByRole("button", { name: "Save changes" }).click();
      await page.waitForURL(/\/admin\/login\?next=%2Fadmin%2Fupstreams%2Falpha&unsaved=1$/);
      await page.getByRole("alert").filter({ hasText: "nothing was saved" }).waitFor();
      await signIn(page);
      await page.waitForURL(/\/admin\/upstreams\/alpha$/);
      await page.getByLabel("Description (optional)").waitFor();

      // The export downloads a file while signed in; once the session is gone it asks for the
      // password, rather than saving the sign-in page as the configuration.
      await page.goto(`${url}/admin/transfer`);
      const download = page.waitForEvent("download");
      await page.getByRole("link", { name: "Download config.json" }).click();
      assert.match((await download).suggestedFilename(), /^config-.*\.json$/);
      // (Both tabs share one session.)
      await other.goto(`${url}/admin`);
      await other.getByRole("button", { name: "Sign out" }).click();
      let downloaded = false;
      page.on("download", () => downloaded = true);
      await page.getByRole("link", { name: "Download config.json" }).click();
      await page.getByLabel("Admin password").waitFor();
      assert.equal(downloaded, false, "no file saved");
      await signIn(page);
      await page.goto(`${url}/admin/upstreams/alpha`);

      // An answer htmx does not swap in (413) is said in the page's notice.
      // Set in the page: typed through the driver, 9 MB takes many seconds.
      await page.getByLabel("Description (optional)").evaluate((el) => {
        (el as unknown as { value: string }).value = "x".repeat(9 * 1024 * 1024);
      });
      await page.getByRole("button", { name: "Save changes" }).click();
      await page.locator("#notice", { hasText: "larger than the server takes" }).waitFor();
      assert.equal(server.services.store.snapshot.doc.upstream[0].description, undefined);
      await context.close();
    } finally {
      await browser.close();
      await server.close();
    }
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name: "admin in a real browser: a sign-in locked for a while opens again by itself",
  ignore: !hasChromium(),
  async fn() {
    const server = await startTestServer();
    // The locked page as the server renders it, with a lock of one second, beside its scripts.
    const locked = LoginPage({
      loginCsrf: "t",
      error: "Too many failed attempts. Try again in 1 s.",
      retryAfterSeconds: 1,
    });
    const site = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
      const path = new URL(req.url).pathname;
      return path === "/"
        ? new Response(String(locked), { headers: { "content-type": "text/html" } })
        : fetch(server.url + path);
    });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${site.addr.port}/`);
      const button = page.getByRole("button", { name: "Sign in" });
      assert.equal(await button.isDisabled(), true);
      await page.getByText("You can sign in again.").waitFor({ timeout: 5000 });
      assert.equal(await button.isDisabled(), false);
      // Without scripts nothing would open it again: it is never drawn disabled.
      const plain = await (await browser.newContext({ javaScriptEnabled: false })).newPage();
      await plain.goto(`http://127.0.0.1:${site.addr.port}/`);
      assert.equal(await plain.getByRole("button", { name: "Sign in" }).isDisabled(), false);
    } finally {
      await browser.close();
      await site.shutdown();
      await server.close();
    }
  },
});

Deno.test({
  name:
    "admin in a real browser, by keyboard: the focus stays on its control when a row swaps or a panel refreshes",
  ignore: !hasChromium(),
  async fn() {
    const server = await startTestServer({
      config: {
        upstream: [{
          name: "alpha",
          baseUrl: "https://api.openai.com",
          serviceType: "openai",
          apiKeys: KEYS.slice(0, 2),
        }],
      },
    });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    try {
      const page = await browser.newPage();
      await page.goto(`${server.url}/admin/upstreams/alpha/keys`);
      await page.getByLabel("Admin password").fill(ADMIN_PASSWORD);
      await page.getByRole("button", { name: "Sign in" }).click();
      const row = page.locator("table.keys tbody tr").first();
      await row.getByRole("button", { name: "Disable" }).focus();
      await page.keyboard.press("Enter");
      await row.getByRole("button", { name: "Enable" }).waitFor();
      const focused = () =>
        page.locator("body").evaluate((el) => el.ownerDocument.activeElement?.textContent?.trim());
      // Each row's buttons name their key for screen readers, not only "Enable".
      const said = await focused() ?? "";
      assert.match(said, /^Enable key \S+$/, `the swapped row's button has the focus: ${said}`);
      // The page's button re-enabling every disabled key comes with the first one disabled...
      const reenable = page.getByRole("button", { name: /^Re-enable/ });
      assert.equal(await reenable.textContent(), "Re-enable 1 disabled key");
      await page.keyboard.press("Enter");
      await row.getByRole("button", { name: "Disable" }).waitFor();
      assert.match(await focused() ?? "", /^Disable key /);
      // ...and goes once none is left.
      assert.equal(await reenable.count(), 0);
      const masked = (await focused())!.replace(/^Disable key /, "");
      await page.getByRole("button", { name: `Test key ${masked}`, exact: true }).waitFor();

      // A form sent back with problems puts the focus on its first field in error.
      await page.goto(`${server.url}/admin/upstreams/alpha`);
      await page.getByLabel("Base URL").fill("ftp://files.example");
      await page.getByRole("button", { name: "Save changes" }).click();
      await page.locator("#f-baseUrl-error").waitFor();
      assert.equal(
        await page.locator("body").evaluate((el) => el.ownerDocument.activeElement?.id),
        "f-baseUrl",
        "the field in error has the focus",
      );
      // Saved, then Back: the form shows what was saved, not the page as it was before.
      await page.getByLabel("Base URL").fill("https://api.openai.com");
      await page.getByLabel("Description (optional)").fill("saved v2");
      await page.getByRole("button", { name: "Save changes" }).click();
      await page.locator("#notice", { hasText: "saved" }).waitFor();
      await page.goBack();
      await page.getByLabel("Description (optional)").waitFor();
      assert.equal(await page.getByLabel("Description (optional)").inputValue(), "saved v2");

      // The dashboard's key panel refreshes every 10 s (every second while a key cools down).
      await server.services.health.coolDown(
        healthId("https://api.openai.com", KEYS[1]),
        "*",
        60_000,
        "429",
      );
      await page.goto(`${server.url}/admin`);
      await page.locator("#key-states a", { hasText: "alpha" }).focus();
      const before = await page.locator("#key-states .countdown").innerText();
      await page.locator("#key-states .countdown").filter({ hasNotText: before }).waitFor();
      assert.equal(await focused(), "alpha", "the refreshed panel's link has the focus");
    } finally {
      await browser.close();
      await server.close();
    }
  },
});

/** Height of the text an element shows, as drawn (an SVG text scaled with its chart included). */
function drawnTextHeights(page: Page, selector: string): Promise<number[]> {
  return page.locator(selector).evaluateAll((els) =>
    els.filter((el) => el.textContent?.trim()).map((el) => {
      if (el.namespaceURI === "http://www.w3.org/2000/svg") {
        return el.getBoundingClientRect().height;
      }
      const range = el.ownerDocument.createRange();
      range.selectNodeContents(el);
      return range.getBoundingClientRect().height;
    })
  );
}

/** How many lines an element's text takes (its content only: no padding, no stretched cell). */
function linesOf(page: Page, selector: string): Promise<number[]> {
  return page.locator(selector).evaluateAll((els) =>
    els.map((el) => {
      const lh = parseFloat(el.ownerDocument.defaultView!.getComputedStyle(el).lineHeight);
      const range = el.ownerDocument.createRange();
      range.selectNodeContents(el);
      return Math.round(range.getBoundingClientRect().height / lh);
    })
  );
}

/**
 * Where each element's text breaks across lines: the characters either side of every break
 * (spaces the break swallows skipped), so a test can tell a break after "/" from one mid-word.
 */
function breaksIn(page: Page, selector: string): Promise<string[][]> {
  return page.locator(selector).evaluateAll((els) =>
    els.map((el) => {
      const doc = el.ownerDocument;
      const walker = doc.createTreeWalker(el, 4); // NodeFilter.SHOW_TEXT
      const breaks: string[] = [];
      let last: { top: number; ch: string } | null = null;
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const text = node.textContent ?? "";
        for (let i = 0; i < text.length; i++) {
          if (/\s/.test(text[i])) continue;
          const range = doc.createRange();
          range.setStart(node, i);
          range.setEnd(node, i + 1);
          const rect = range.getClientRects()[0];
          if (!rect) continue;
          if (last && rect.top > last.top + rect.height / 2) breaks.push(`${last.ch}|${text[i]}`);
          last = { top: rect.top, ch: text[i] };
        }
      }
      return breaks;
    })
  );
}

/** The left edge of each row's button named `name`, in row order. */
function buttonXs(page: Page, rows: string, name: string): Promise<Array<number | null>> {
  return page.locator(rows).evaluateAll((trs, name) =>
    trs.map((tr) => {
      const b = [...tr.querySelectorAll("button, a.button")]
        .find((el) => el.firstChild?.textContent?.trim() === name);
      return b ? Math.round(b.getBoundingClientRect().left) : null;
    }), name);
}

Deno.test({
  name:
    "admin in a real browser: a whole key typed into the keys filter finds it, and no address holds it",
  ignore: !hasChromium(),
  async fn() {
    const keys = Array.from(
      { length: 120 },
      (_, i) => `sk-find-${"y".repeat(24)}${String(i).padStart(4, "0")}`,
    );
    const server = await startTestServer({
      config: {
        upstream: [{
          name: "main",
          baseUrl: "http://127.0.0.1:9",
          serviceType: "openai",
          apiKeys: keys,
        }],
        currentUpstream: 0,
        loadBalance: "round-robin",
      },
    });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    try {
      const page = await browser.newPage();
      const seen: string[] = [];
      page.on("request", (r) => seen.push(r.url()));
      await page.goto(`${server.url}/admin/login`);
      await page.getByLabel("Admin password").fill(ADMIN_PASSWORD);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("heading", { name: "Dashboard" }).waitFor();
      await page.goto(`${server.url}/admin/upstreams/main/keys`);
      await page.getByLabel("Key", { exact: true }).fill(keys[77]);
      await page.getByRole("button", { name: "Filter" }).click();
      await page.getByText("1 key of 120 match.").waitFor();
      assert.match(page.url(), /[?&]q=sk-fin%E2%80%A60077$/);
      assert.deepEqual(seen.filter((u) => u.includes(keys[77])), [], "in no request's address");
    } finally {
      await browser.close();
      await server.close();
    }
  },
});

Deno.test({
  name:
    "admin in two tabs: a save over the other tab's is said in place, keeps what was typed, and a second save lands",
  ignore: !hasChromium(),
  async fn() {
    const server = await startTestServer({
      config: {
        upstream: [{
          name: "main",
          baseUrl: "http://127.0.0.1:9",
          serviceType: "openai",
          apiKeys: KEYS.slice(0, 1),
        }],
      },
    });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    try {
      const context = await browser.newContext();
      const [first, second] = [await context.newPage(), await context.newPage()];
      await first.goto(`${server.url}/admin/login`);
      await first.getByLabel("Admin password").fill(ADMIN_PASSWORD);
      await first.getByRole("button", { name: "Sign in" }).click();
      await first.getByRole("heading", { name: "Dashboard" }).waitFor();
      for (const page of [first, second]) await page.goto(`${server.url}/admin/upstreams/main`);

      // A key added meanwhile is no change to what the form shows.
      await second.goto(`${server.url}/admin/upstreams/main/keys`);
      await second.getByLabel("Add keys").fill(KEYS[1]);
      await second.getByRole("button", { name: "Add keys" }).click();
      await second.getByText("Added 1 key.").waitFor();
      await second.goto(`${server.url}/admin/upstreams/main`);
      await second.getByLabel("Description (optional)").fill("from the second tab");
      await second.getByRole("button", { name: "Save changes" }).click();
      await second.waitForURL(/\/admin\/upstreams$/);

      await first.getByLabel("Description (optional)").fill("from the first tab");
      await first.getByRole("button", { name: "Save changes" }).click();
      await first.getByText("“main” was changed elsewhere since this page was loaded").waitFor();
      assert.equal(
        await first.getByLabel("Description (optional)").inputValue(),
        "from the first tab",
      );
      assert.equal(
        server.services.store.snapshot.doc.upstream[0].description,
        "from the second tab",
      );
      await first.getByRole("button", { name: "Save changes" }).click();
      await first.waitForURL(/\/admin\/upstreams$/);
      const [u] = server.services.store.snapshot.doc.upstream;
      assert.equal(u.description, "from the first tab");
      assert.deepEqual(u.apiKeys, KEYS.slice(0, 2));
    } finally {
      await browser.close();
      await server.close();
    }
  },
});

Deno.test({
  name:
    "admin on a phone: a long name or description without spaces wraps instead of widening the page",
  ignore: !hasChromium(),
  async fn() {
    const name = `team-${"x".repeat(59)}`;
    const server = await startTestServer({
      config: {
        upstream: [{
          name,
          baseUrl: "http://127.0.0.1:9",
          serviceType: "openai",
          apiKeys: ["sk-proj-aaaaaaaaaaaaaaaa1111"],
          description: "d".repeat(300),
        }],
        currentUpstream: 0,
        loadBalance: "round-robin",
      },
    });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    try {
      const context = await browser.newContext({ viewport: { width: 375, height: 800 } });
      const page = await context.newPage();
      await page.goto(`${server.url}/admin/login`);
      await page.getByLabel("Admin password").fill(ADMIN_PASSWORD);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("heading", { name: "Dashboard" }).waitFor();
      for (const path of ["/admin", "/admin/upstreams", `/admin/upstreams/${name}/delete`]) {
        await page.goto(server.url + path);
        const width = await page.locator("html").evaluate((el) => el.scrollWidth);
        assert.ok(width <= 375, `${path} is ${width} px wide on a 375 px screen`);
      }
    } finally {
      await browser.close();
      await server.close();
    }
  },
});

Deno.test({
  name: "admin layout on a laptop and a phone: cards, charts and action buttons",
  ignore: !hasChromium(),
  async fn(t) {
    const longUrl = "https://my-company-resource.openai.azure.com/openai/deployments/gpt-4o-prod";
    const server = await startTestServer({
      config: {
        upstream: [
          {
            name: "openai-main",
            baseUrl: longUrl,
            serviceType: "openai",
            apiKeys: ["sk-proj-aaaaaaaaaaaaaaaa1111", "sk-proj-bbbbbbbbbbbbbbbb2222"],
            fallback: "gemini-main",
          },
          {
            name: "gemini-main",
            baseUrl: "https://generativelanguage.googleapis.com",
            serviceType: "gemini",
            apiKeys: ["AIzaSyDDDDDDDDDDDDDDDDDDDDDD3333"],
          },
          {
            name: "local-vllm",
            baseUrl: "http://127.0.0.1:9",
            serviceType: "custom",
            apiKeys: ["sk-local-0000000000000004"],
          },
        ],
        currentUpstream: 0,
        loadBalance: "round-robin",
      },
    });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    try {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      await page.goto(`${server.url}/admin/login`);
      await page.getByLabel("Admin password").fill(ADMIN_PASSWORD);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("heading", { name: "Dashboard" }).waitFor();

      await t.step("dashboard cards: short values on one line, a long URL cut", async () => {
        for (const part of [".stat-label", ".stat-value", ".stat-note"]) {
          assert.deepEqual(
            (await linesOf(page, part)).filter((n) => n !== 1),
            [],
            `every ${part} on one line`,
          );
        }
        const note = page.locator(".stat-note", { hasText: "openai ·" });
        assert.equal(await note.getAttribute("title"), `openai · ${longUrl}`, "whole URL in title");
        assert.ok(
          await note.evaluate((el) => el.scrollWidth > el.clientWidth),
          "the URL is cut, not wrapped",
        );
      });

      const yTicks = (chart: string) =>
        page.locator("figure.chart", { hasText: chart }).locator(".chart-y span").allInnerTexts();

      await t.step("charts without requests say so; tick labels are distinct", async () => {
        for (const chart of ["Requests per hour", "Tokens per hour", "Latency per hour"]) {
          const figure = page.locator("figure.chart", { hasText: chart });
          assert.match(await figure.innerText(), /No (requests|tokens) in these 24 hours/, chart);
        }
        server.services.recorder.record({
          id: "req_layout0001",
          time: Date.now() - 1000,
          path: "/v1/messages",
          stream: false,
          requestedModel: "claude-sonnet-4-5",
          upstream: "openai-main",
          attempts: [],
          fallbacks: [],
          status: 200,
          totalMs: 0.4,
          usage: { input_tokens: 3, output_tokens: 1 },
        });
        await page.reload();
        for (const chart of ["Requests per hour", "Tokens per hour", "Latency per hour"]) {
          const ticks = await yTicks(chart);
          assert.ok(ticks.length >= 2, `${chart}: ${ticks}`);
          assert.equal(new Set(ticks).size, ticks.length, `${chart}: distinct ticks ${ticks}`);
        }
        for (const chart of ["Requests per hour", "Tokens per hour"]) {
          const ticks = await yTicks(chart);
          assert.ok(ticks.every((s) => /^\d+$/.test(s)), `${chart}: whole numbers ${ticks}`);
        }
      });

      await t.step("upstreams: each action in the same place on every row", async () => {
        await page.goto(`${server.url}/admin/upstreams`);
        const rows = "table.list tbody tr";
        assert.deepEqual(
          await linesOf(page, `${rows} td[data-label="Keys"] a`),
          [1, 1, 1],
          '"2 keys" on one line',
        );
        for (const name of ["Edit", "Keys", "Delete"]) {
          const xs = await buttonXs(page, rows, name);
          assert.equal(new Set(xs).size, 1, `${name} at ${xs}`);
        }
        // Up is missing from the first row, Down from the last, Make current from the current.
        for (const name of ["Make current", "Up", "Down"]) {
          const xs = (await buttonXs(page, rows, name)).filter((x) => x !== null);
          assert.equal(xs.length, 2, name);
          assert.equal(new Set(xs).size, 1, `${name} at ${xs}`);
        }
      });

      await t.step("upstreams on a narrow laptop: a base URL breaks only at / or .", async () => {
        for (const width of [1100, 1025]) {
          await page.setViewportSize({ width, height: 900 });
          await page.goto(`${server.url}/admin/upstreams`);
          const html = await page.locator("html").evaluate((el) => el.scrollWidth);
          assert.ok(html <= width, `${html} px wide on a ${width} px screen`);
          const urls = await breaksIn(page, "td.url");
          assert.equal(urls.length, 3);
          for (const breaks of urls) {
            const bad = breaks.filter((b) => !b.startsWith("/") && !b.endsWith("."));
            assert.deepEqual(bad, [], `at ${width} px the URL breaks at ${breaks}`);
          }
          const names = await breaksIn(page, 'td[data-label="Name"]');
          assert.deepEqual(names.flat().filter((b) => b.startsWith("-")), [], "names kept whole");
        }
        await page.setViewportSize({ width: 1280, height: 900 });
      });

      await t.step("keys: each action in the same place on every row", async () => {
        await page.goto(`${server.url}/admin/upstreams/openai-main/keys`);
        const row = page.locator("table.keys tbody tr").nth(1);
        await row.getByRole("button", { name: "Disable" }).click();
        await row.getByRole("button", { name: "Enable" }).waitFor();
        for (const name of ["Test", "Delete"]) {
          const xs = await buttonXs(page, "table.keys tbody tr", name);
          assert.equal(new Set(xs).size, 1, `${name} at ${xs}`);
        }
      });

      await t.step("logs: times and keys on one line, filters aligned", async () => {
        const attempt = (upstream: string, key: string) => ({
          upstream,
          keyId: key,
          key,
          outcome: "failed" as const,
          status: 502,
          reason: "Could not reach the upstream: failed to lookup address information",
          ms: 6,
        });
        server.services.recorder.record({
          id: "req_layout0002",
          time: Date.now() - 500,
          path: "/v1/messages",
          stream: true,
          requestedModel: "claude-sonnet-4-5-20250929",
          upstreamModel: "gpt-4o-2024-11-20",
          upstream: "gemini-main",
          attempts: [
            attempt("openai-main", "sk-pro…1111"),
            attempt("openai-main", "sk-pro…2222"),
            attempt("gemini-main", "AIzaSy…3333"),
          ],
          fallbacks: ["gemini-main"],
          status: 529,
          errorType: "overloaded_error",
          totalMs: 22,
        });
        await page.setViewportSize({ width: 1280, height: 900 });
        await page.goto(`${server.url}/admin/logs`);
        assert.deepEqual(await linesOf(page, "table.log-table td[data-label=Time] > a"), [1, 1]);
        // On a red row, the red status badge keeps a visible edge.
        const edge = await page.locator("tr.error .badge-bad").first().evaluate((el) =>
          el.ownerDocument.defaultView!.getComputedStyle(el).borderTopColor
        );
        assert.notEqual(edge, "rgba(0, 0, 0, 0)", "badge edge");
        // The checkbox and the button sit on the line of the selects and the search box.
        const middles = await page.locator("#log-filters")
          .locator("select, input[type=search], input[type=checkbox], button")
          .evaluateAll((els) =>
            els.map((el) => {
              const r = el.getBoundingClientRect();
              return Math.round(r.top + r.height / 2);
            })
          );
        assert.ok(middles.every((m) => Math.abs(m - middles[0]) <= 3), `middles ${middles}`);
        // The live switch starts at the top of its card, not a paragraph's margin below.
        const gap = await page.locator("#log-rows").evaluate((card) => {
          const bar = card.querySelector(".badge")!.closest("p, div")!;
          const pad = parseFloat(card.ownerDocument.defaultView!.getComputedStyle(card).paddingTop);
          return bar.getBoundingClientRect().top - card.getBoundingClientRect().top - pad;
        });
        assert.ok(gap < 2, `${gap} px above the live switch`);

        await page.getByRole("link", { name: /\d\d:\d\d:\d\d/ }).first().click();
        await page.getByRole("heading", { name: "Routing trace" }).waitFor();
        assert.deepEqual(await linesOf(page, "table.list code.key"), [1, 1, 1]);
      });

      await t.step("logs on a laptop: model and upstream names are not broken", async () => {
        for (const width of [1280, 1100]) {
          await page.setViewportSize({ width, height: 900 });
          await page.goto(`${server.url}/admin/logs`);
          const html = await page.locator("html").evaluate((el) => el.scrollWidth);
          assert.ok(html <= width, `${html} px wide on a ${width} px screen`);
          for (const label of ["Model", "Upstream", "Tries"]) {
            const breaks = (await breaksIn(page, `table.log-table td[data-label=${label}]`)).flat();
            assert.deepEqual(breaks.filter((b) => b.startsWith("-")), [], `${label} at ${width}`);
          }
          assert.deepEqual(
            await linesOf(page, "table.log-table td[data-label=Tries] > div"),
            [1],
            `"fallback: gemini-main" on one line at ${width}`,
          );
        }
        await page.setViewportSize({ width: 1280, height: 900 });
      });

      await t.step(
        "logs: a model name a client made up neither widens the page nor turns the proxy's text around",
        async () => {
          const rlo = "abc\u202egnp.exe";
          const entries = [["req_hostile0001", "x".repeat(3000)], ["req_hostile0002", rlo]];
          for (const [id, model] of entries) {
            server.services.recorder.record({
              id,
              time: Date.now() - 100,
              path: "/v1/messages",
              stream: false,
              requestedModel: model,
              upstreamModel: "gpt-4o",
              upstream: "openai-main",
              attempts: [],
              fallbacks: [],
              status: 200,
              totalMs: 3,
            });
          }
          await page.setViewportSize({ width: 1280, height: 900 });
          for (const path of ["/admin/logs", "/admin/logs/req_hostile0001"]) {
            await page.goto(`${server.url}${path}`);
            const html = await page.locator("html").evaluate((el) => el.scrollWidth);
            assert.ok(html <= 1280, `${path}: ${html} px wide on a 1280 px screen`);
          }
          // The override stays inside the client's text: the arrow and the upstream's model after it
          // are drawn after it, left to right, as written.
          await page.goto(`${server.url}/admin/logs/req_hostile0002`);
          const cell = page.locator("tr", { hasText: "Model" }).locator("td");
          const [model, upstream] = await cell.locator("bdi").evaluateAll((els) =>
            els.map((el) => el.getBoundingClientRect().left)
          );
          assert.ok(model < upstream, `client's model at ${model}, upstream's at ${upstream}`);
          assert.match(await cell.innerText(), /→ gpt-4o$/);
        },
      );

      await t.step("on a phone the charts' labels stay legible", async () => {
        await page.setViewportSize({ width: 390, height: 844 });
        await page.goto(`${server.url}/admin`);
        const heights = await drawnTextHeights(
          page,
          "figure.chart :is(svg text, .chart-y span, .chart-x span)",
        );
        assert.ok(heights.length > 0);
        const small = heights.filter((h) => h < 11);
        assert.deepEqual(small, [], "axis labels at least 11 px tall");
      });
      await t.step("on a phone: the header takes two rows, the nav one of them", async () => {
        for (const width of [390, 360]) {
          await page.setViewportSize({ width, height: 844 });
          await page.goto(`${server.url}/admin/logs`);
          const html = await page.locator("html").evaluate((el) => el.scrollWidth);
          assert.ok(html <= width, `${html} px wide on a ${width} px screen`);
          const tops = await page.locator("header.top nav a").evaluateAll((els) =>
            els.map((el) => Math.round(el.getBoundingClientRect().top))
          );
          assert.equal(new Set(tops).size, 1, `nav links at ${tops}`);
          const height = await page.locator("header.top").evaluate((el) =>
            el.getBoundingClientRect().height
          );
          assert.ok(height <= 100, `header ${height} px tall at ${width} px`);
          // The row scrolls to show where the page is: Logs, last of the sections.
          await assertCurrentSectionShown(page, "Logs", width);
          // The nav scrolls within itself, and the page's own links stay reachable.
          await page.getByRole("link", { name: "Logs", exact: true }).click();
          await page.getByRole("heading", { name: "Request log" }).waitFor();
        }
        // Also after a boosted link swapped the page in: clicked without scrolling to it first.
        await page.goto(`${server.url}/admin`);
        await page.locator('header.top nav a[href="/admin/transfer"]').dispatchEvent("click");
        await page.getByRole("heading", { name: "Export" }).first().waitFor();
        await assertCurrentSectionShown(page, "Import / export", 360);
        // And after the back button brought a page back from htmx's history.
        await page.locator('header.top nav a[href="/admin"]').dispatchEvent("click");
        await page.getByRole("heading", { name: "Dashboard" }).waitFor();
        await page.goBack();
        await page.getByRole("heading", { name: "Export" }).first().waitFor();
        await assertCurrentSectionShown(page, "Import / export", 360);
      });

      await t.step("on a phone: the six dashboard cards two a row, none cut", async () => {
        for (const width of [390, 360]) {
          await page.setViewportSize({ width, height: 844 });
          await page.goto(`${server.url}/admin`);
          const tops = await page.locator(".stats .stat").evaluateAll((els) =>
            els.map((el) => Math.round(el.getBoundingClientRect().top))
          );
          assert.equal(new Set(tops).size, 3, `six cards in three rows at ${width}: ${tops}`);
          // A label or a short value cut with an ellipsis is as unreadable as one broken.
          const cut = await page.locator(".stat-label, .stat-value > a").evaluateAll((els) =>
            els.filter((el) => el.scrollWidth > el.clientWidth).map((el) => el.textContent)
          );
          assert.deepEqual(cut, [], `cut at ${width} px`);
        }
        await page.setViewportSize({ width: 390, height: 844 });
      });

      await t.step("on a phone: each usage figure and its label on one line", async () => {
        server.services.recorder.record({
          id: "req_layout0003",
          time: Date.now() - 300,
          path: "/v1/messages",
          stream: false,
          requestedModel: "claude-sonnet-4-5",
          upstream: "openai-main",
          attempts: [],
          fallbacks: [],
          status: 200,
          totalMs: 180,
          usage: { input_tokens: 123456, output_tokens: 45678 },
        });
        for (const width of [390, 360]) {
          await page.setViewportSize({ width, height: 844 });
          await page.goto(`${server.url}/admin`);
          assert.match(await page.locator(".usage-tiles").innerText(), /\d+ms \/ \d+ms/);
          for (const part of [".usage-tiles dt", ".usage-tiles dd"]) {
            assert.deepEqual(await linesOf(page, part), [1, 1, 1, 1], `${part} at ${width}`);
          }
        }
        await page.setViewportSize({ width: 390, height: 844 });
      });

      await t.step("on a phone: tables read as labelled cards or scroll", async () => {
        const before = (selector: string, property: string) =>
          page.locator(selector).evaluateAll(
            (els, property) =>
              els.map((el) =>
                el.ownerDocument.defaultView!.getComputedStyle(el, "::before")
                  .getPropertyValue(property)
              ),
            property,
          );
        await page.goto(`${server.url}/admin/upstreams`);
        assert.doesNotMatch((await before("td.url", "font-family")).join(), /mono/i);

        await page.goto(`${server.url}/admin/logs/req_layout0002`);
        const trace = page.locator("section", { hasText: "Routing trace" }).locator("td");
        assert.deepEqual(
          (await trace.evaluateAll((tds) =>
            tds.map((td) => td.ownerDocument.defaultView!.getComputedStyle(td, "::before").content)
          )).filter((c) => c === "none" || c === "normal"),
          [],
          "every cell of the routing trace says what it is",
        );
        // A row's heading spans the card, so its rule does not stop halfway.
        const widths = await page.locator("table.details tr").first().evaluate((tr) =>
          [...tr.children].map((c) => Math.round(c.getBoundingClientRect().width))
        );
        assert.equal(new Set(widths).size, 1, `heading and value widths ${widths}`);

        await page.goto(`${server.url}/admin`);
        for (const caption of await page.locator(".usage-table caption").all()) {
          const box = await caption.evaluate((el) => {
            const r = el.getBoundingClientRect();
            const range = el.ownerDocument.createRange();
            range.selectNodeContents(el);
            const t = range.getBoundingClientRect();
            return { left: Math.max(r.left, t.left), right: t.right };
          });
          assert.ok(box.left >= 0 && box.right <= 390, `caption at ${box.left}..${box.right}`);
        }
        assert.deepEqual(
          (await linesOf(page, ".usage-table td:first-child")).filter((n) => n !== 1),
          [],
          "names on one line (the table scrolls)",
        );
      });

      await t.step("on a narrow laptop or a tablet nothing runs off the page", async () => {
        await page.setViewportSize({ width: 820, height: 900 });
        for (
          const path of ["/admin/upstreams", "/admin/upstreams/openai-main/keys", "/admin/logs"]
        ) {
          await page.goto(server.url + path);
          const width = await page.locator("html").evaluate((el) => el.scrollWidth);
          assert.ok(width <= 820, `${path} is ${width} px wide on an 820 px screen`);
        }
      });

      await t.step("dark theme: the text of a filled button is readable", async () => {
        await page.emulateMedia({ colorScheme: "dark" });
        await page.goto(`${server.url}/admin/upstreams`);
        const ratio = await page.getByRole("link", { name: "Add upstream" }).evaluate((el) => {
          const style = el.ownerDocument.defaultView!.getComputedStyle(el);
          const luminance = (css: string) => {
            const [r, g, b] = css.match(/[\d.]+/g)!.slice(0, 3).map((v) => {
              const c = Number(v) / 255;
              return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
            });
            return 0.2126 * r + 0.7152 * g + 0.0722 * b;
          };
          const [a, b] = [luminance(style.color), luminance(style.backgroundColor)];
          return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        });
        assert.ok(ratio >= 4.5, `contrast ${ratio.toFixed(2)}:1`);
        await page.emulateMedia({ colorScheme: "light" });
      });

      await context.close();
    } finally {
      await browser.close();
      await server.close();
    }
  },
});

/** The nav link of the page shown is the one marked current, and it lies within the screen. */
async function assertCurrentSectionShown(page: Page, label: string, width: number) {
  const current = await page.locator('header.top nav a[aria-current="page"]').evaluate((el) => {
    const r = el.getBoundingClientRect();
    return { text: el.textContent, left: r.left, right: r.right };
  });
  assert.equal(current.text, label);
  assert.ok(
    current.left >= 0 && current.right <= width,
    `current section at ${current.left}-${current.right} px on a ${width} px screen`,
  );
}
