// How admin handlers answer: redirect after a successful post (with a one-time notice), re-render
// with the errors on failure (only the form when htmx asked, the whole page otherwise).
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import {
  AdminInputError,
  ConflictError,
  findUpstream,
  InvalidConfigError,
  UnknownUpstreamError,
} from "../../lib/admin_service.ts";
import type { ConfigDocument } from "../../lib/config_document.ts";
import { type Chrome, FormWithNoticeCleared, type Notice } from "../../views/layout.tsx";
import { type AdminEnv, isHtmx, isSecure } from "./session.ts";

const FLASH_COOKIE = "admin_flash";

export type AdminContext = Context<AdminEnv>;

/** The csrf token and the notice left by the previous request (read once). */
export function chrome(c: AdminContext, notice?: Notice): Chrome {
  const csrf = c.get("csrfToken");
  if (notice) return { csrf, notice };
  const raw = getCookie(c, FLASH_COOKIE);
  if (!raw) return { csrf };
  deleteCookie(c, FLASH_COOKIE, { path: "/admin", secure: isSecure(c) });
  try {
    const parsed = JSON.parse(raw) as Notice;
    if ((parsed.kind === "ok" || parsed.kind === "error") && typeof parsed.text === "string") {
      return { csrf, notice: { kind: parsed.kind, text: parsed.text.slice(0, 500) } };
    }
  } catch {
    // A malformed flash is dropped.
  }
  return { csrf };
}

/** Post/redirect/get: the notice survives the redirect in a short-lived cookie. */
export function redirectWith(c: AdminContext, url: string, notice?: Notice): Response {
  if (notice) {
    setCookie(c, FLASH_COOKIE, JSON.stringify(notice), {
      httpOnly: true,
      sameSite: "Strict",
      secure: isSecure(c),
      path: "/admin",
      maxAge: 60,
    });
  }
  // An htmx request aimed at a fragment (not a boosted page) must not get a page swapped in.
  if (isHtmx(c) && c.req.header("hx-boosted") !== "true") {
    c.header("HX-Redirect", url);
    return c.body(null, 200);
  }
  return c.redirect(url, 303);
}

/** The HTTP status an admin error deserves. */
export function statusFor(err: unknown): 404 | 409 | 422 | null {
  if (err instanceof UnknownUpstreamError) return 404;
  if (err instanceof ConflictError) return 409;
  if (err instanceof InvalidConfigError || err instanceof AdminInputError) return 422;
  return null;
}

export const CONFLICT_TEXT =
  "The configuration was changed elsewhere since this page was loaded, so nothing was saved. " +
  "Reload the page to see the change, then try again.";

/** What a notice says of an error statusFor() placed: a conflict, how to get past it. */
export function errorText(err: unknown, status: number): string {
  return status === 409 ? CONFLICT_TEXT : (err as Error).message;
}

/** The index of the upstream the path names (`:name`), or null when none answers to it. */
export function upstreamInPath(
  c: AdminContext,
  doc: ConfigDocument,
): { doc: ConfigDocument; index: number } | null {
  try {
    return { doc, index: findUpstream(doc, c.req.param("name") ?? "") };
  } catch {
    return null;
  }
}

/**
 * An answer that re-renders a form with its errors. htmx gets only the form (swapped in place,
 * the address bar unchanged); a plain browser gets the whole page.
 */
export function rerender(
  c: AdminContext,
  status: 400 | 403 | 404 | 409 | 422 | 429,
  page: () => unknown,
  form?: { id: string; render: () => unknown },
): Response | Promise<Response> {
  if (isHtmx(c)) {
    c.header("HX-Push-Url", "false");
    if (form) {
      c.header("HX-Retarget", `#${form.id}`);
      c.header("HX-Reswap", "outerHTML");
      return c.html(FormWithNoticeCleared({ children: form.render() }) as string, status);
    }
  }
  return c.html(page() as string, status);
}

/** Reads a posted form as plain strings; repeated fields with `all`. */
export async function readForm(c: AdminContext): Promise<FormData> {
  try {
    return await c.req.formData();
  } catch {
    return new FormData();
  }
}

export function field(form: FormData, name: string): string {
  const v = form.get(name);
  return typeof v === "string" ? v : "";
}

/** The stamp of what a form showed (FormGuards' `shown`); undefined if it carried none. */
export function formShown(form: FormData): string | undefined {
  const v = form.get("shown");
  return typeof v === "string" ? v : undefined;
}

/** The document version a form was rendered with; undefined if the form carried none. */
export function formVersion(form: FormData): string | null | undefined {
  const v = form.get("version");
  if (typeof v !== "string") return undefined;
  return v === "" ? null : v;
}
