// The sign-in form, and the page shown when the admin surface is switched off.
import { PlainLayout } from "./layout.tsx";

export function LoginPage(
  props: {
    loginCsrf: string;
    next?: string;
    error?: string;
    retryAfterSeconds?: number;
    /** The session ended before a form was sent: what it held was not saved. */
    unsaved?: boolean;
  },
) {
  return (
    <PlainLayout title="Sign in">
      <section class="card narrow">
        <h1>Claude proxy admin</h1>
        <form method="post" action="/admin/login" class="stack">
          <input type="hidden" name="_csrf" value={props.loginCsrf} />
          {props.next && <input type="hidden" name="next" value={props.next} />}
          {props.unsaved && !props.error && (
            <p class="notice notice-warn" role="alert">
              Your session ended before the form was sent, so nothing was saved. Sign in, then make
              the change again.
            </p>
          )}
          {props.error && (
            <p class="notice notice-error" role="alert" id="login-error">{props.error}</p>
          )}
          <div class={props.error ? "field has-error" : "field"}>
            <label for="f-password">Admin password</label>
            <input
              id="f-password"
              name="password"
              type="password"
              required
              autofocus
              autocomplete="current-password"
              aria-describedby={props.error ? "login-error" : "f-password-hint"}
            />
            <p class="hint" id="f-password-hint">The ADMIN_PASSWORD the server was started with.</p>
          </div>
          {/* Held off by the script while locked: drawn disabled, it stayed so without one. */}
          <button type="submit" data-retry-after={props.retryAfterSeconds}>
            Sign in
          </button>
        </form>
      </section>
    </PlainLayout>
  );
}

export function AdminDisabledPage() {
  return (
    <PlainLayout title="Admin disabled">
      <section class="card narrow">
        <h1>The admin pages are disabled</h1>
        <p>
          No admin password is set, so the admin pages and the admin API refuse every request.
        </p>
        <p>To enable them, set a long random password and restart the server:</p>
        <pre><code>ADMIN_PASSWORD=your-long-random-password</code></pre>
        <p>
          Put it in the environment or in the <code>.env</code>{" "}
          file next to the server, then sign in at <code>/admin</code> with it.
        </p>
      </section>
    </PlainLayout>
  );
}
