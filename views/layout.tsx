// The page shell of the admin: head, navigation, notices; htmx boosts links and forms when present.
import type { Child } from "hono/jsx";
import { raw } from "hono/html";

export interface Notice {
  kind: "ok" | "error";
  text: string;
}

/** What every signed-in page needs besides its own content. */
export interface Chrome {
  csrf: string;
  notice?: Notice;
}

export type NavItem = "dashboard" | "upstreams" | "strategy" | "transfer" | "logs";

// 4xx answers carry a re-rendered form or page to show, so htmx must swap them in.
const HTMX_CONFIG = JSON.stringify({
  responseHandling: [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "^(400|403|404|409|422|429)$", swap: true, error: false },
    { code: "[45]..", swap: false, error: true },
  ],
  includeIndicatorStyles: false,
  historyRestoreAsHxRequest: false,
  allowEval: false,
  allowScriptTags: false,
  selfRequestsOnly: true,
  scrollIntoViewOnBoost: false,
});

const NAV: Array<{ id: NavItem; href: string; label: string }> = [
  { id: "dashboard", href: "/admin", label: "Dashboard" },
  { id: "upstreams", href: "/admin/upstreams", label: "Upstreams" },
  { id: "strategy", href: "/admin/strategy", label: "Strategy" },
  { id: "transfer", href: "/admin/transfer", label: "Import / export" },
  { id: "logs", href: "/admin/logs", label: "Logs" },
];

function Head(props: { title: string }) {
  return (
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="htmx-config" content={HTMX_CONFIG} />
      <meta name="referrer" content="same-origin" />
      <title>{props.title} · Claude proxy admin</title>
      <link rel="icon" href="data:," />
      <link rel="stylesheet" href="/static/admin.css" />
      <script src="/static/htmx.min.js" defer></script>
      <script src="/static/admin.js" defer></script>
    </head>
  );
}

function NoticeBox(props: { notice?: Notice }) {
  if (!props.notice) return <div id="notice"></div>;
  const { kind, text } = props.notice;
  return (
    <div id="notice" class={`notice notice-${kind}`} role={kind === "error" ? "alert" : "status"}>
      {text}
    </div>
  );
}

/**
 * A form re-rendered with its errors, and the page's notice emptied out of band: a notice of an
 * earlier success must not stand beside the new refusal.
 */
export function FormWithNoticeCleared(props: { children: unknown }) {
  return (
    <>
      {props.children}
      <div id="notice" hx-swap-oob="true"></div>
    </>
  );
}

/** A signed-in page: navigation, a sign-out button, the page's notice and content. */
export function AdminLayout(
  props: { title: string; active?: NavItem; chrome: Chrome; children?: Child },
) {
  const { csrf } = props.chrome;
  return (
    <>
      {raw("<!doctype html>")}
      <html lang="en">
        <Head title={props.title} />
        <body hx-boost="true" hx-headers={JSON.stringify({ "x-csrf-token": csrf })}>
          <a class="skip" href="#main">Skip to content</a>
          <header class="top">
            <a class="brand" href="/admin">Claude proxy</a>
            <nav aria-label="Admin sections">
              <ul>
                {NAV.map((item) => (
                  <li>
                    <a
                      href={item.href}
                      aria-current={item.id === props.active ? "page" : undefined}
                    >
                      {item.label}
                    </a>
                  </li>
                ))}
              </ul>
            </nav>
            <form method="post" action="/admin/logout" class="logout" hx-boost="false">
              <input type="hidden" name="_csrf" value={csrf} />
              <button type="submit" class="link">Sign out</button>
            </form>
          </header>
          <main id="main">
            <NoticeBox notice={props.chrome.notice} />
            {props.children}
          </main>
        </body>
      </html>
    </>
  );
}

/** A page outside the signed-in area (sign-in, disabled admin). */
export function PlainLayout(props: { title: string; children?: Child }) {
  return (
    <>
      {raw("<!doctype html>")}
      <html lang="en">
        <Head title={props.title} />
        <body class="plain">
          <main id="main">{props.children}</main>
        </body>
      </html>
    </>
  );
}
