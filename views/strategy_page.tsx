// How the keys of the current upstream take turns.
import { STRATEGIES } from "../lib/config.ts";
import { STRATEGY_HELP } from "../lib/admin_service.ts";
import type { Strategy } from "../lib/config.ts";
import { FieldError, type FieldErrors, FormErrors, FormGuards } from "./form_parts.tsx";
import { AdminLayout, type Chrome } from "./layout.tsx";

export function StrategyPage(
  props: {
    chrome: Chrome;
    /** The stored strategy the page showed: the form conflicts with a change to it alone. */
    shown: Strategy;
    /** The one checked. */
    strategy: Strategy;
    errors?: FieldErrors;
    formErrors?: string[];
  },
) {
  const errors = props.errors?.loadBalance;
  return (
    <AdminLayout title="Strategy" active="strategy" chrome={props.chrome}>
      <h1>Key strategy</h1>
      <form id="strategy-form" method="post" action="/admin/strategy" class="card stack">
        <FormGuards csrf={props.chrome.csrf} shown={props.shown} />
        <FormErrors errors={props.formErrors} />
        <fieldset class={errors?.length ? "has-error" : undefined}>
          <legend>Which key of the current upstream serves the next request</legend>
          {STRATEGIES.map((s) => (
            <div class="choice">
              <input
                type="radio"
                name="loadBalance"
                id={`f-loadBalance-${s}`}
                value={s}
                checked={s === props.strategy}
                aria-describedby={`f-loadBalance-${s}-help`}
              />
              <label for={`f-loadBalance-${s}`}>
                <strong>{s}</strong>
                <span class="hint" id={`f-loadBalance-${s}-help`}>{STRATEGY_HELP[s]}</span>
              </label>
            </div>
          ))}
          <FieldError id="f-loadBalance-error" errors={errors} />
        </fieldset>
        <p class="hint">
          Whatever the strategy, a key that fails with 429, 5xx or a timeout is set aside and the
          request retried on the next key; 401/403 disable a key until it is re-enabled.
        </p>
        <div class="row">
          <button type="submit">Save strategy</button>
        </div>
      </form>
    </AdminLayout>
  );
}
