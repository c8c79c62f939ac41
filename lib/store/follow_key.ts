// Follows one KV key for changes: kv.watch, plus optional polling, because on a local KV file
// kv.watch only sees the writes of its own process. A watch that cannot start or breaks (a store
// without watch support, a dropped connection to a remote KV) is covered by polling until a new
// watch delivers again: without it an instance would keep serving stale settings for good.

/** Reports what a store cannot throw to anyone: a failed watch, a stored document gone bad. */
export type StoreErrorReport = (message: string, err: unknown) => void;

/** Where a store reports when it was given nowhere else (the CLI). */
export const reportToConsole: StoreErrorReport = (message, err) =>
  console.error(`${message}:`, err);

/** Polling while the watch is down: changes still reach this instance within a second. */
const FALLBACK_POLL_MS = 500;
const REWATCH_FIRST_MS = 1_000;
const REWATCH_MAX_MS = 60_000;
const RETRY_MS = 500;

/**
 * Calls `onChange(versionstamp)` when `key` may have changed (the callback decides whether it did).
 * Returns a function that stops following.
 */
export function followKey(
  kv: Deno.Kv,
  key: Deno.KvKey,
  onChange: (versionstamp: string | null) => Promise<void> | void,
  options: { pollMs?: number; onError?: (err: unknown) => void } = {},
): () => void {
  let closed = false;
  let busy = false;
  let again: string | null | undefined;
  let failing = false;
  let retry: ReturnType<typeof setTimeout> | undefined;
  // A change whose handling failed (a KV read that failed) is tried again by itself: nothing else
  // would until the next change, and where only the watch reports changes none may come for days.
  const retryLater = () => {
    clearTimeout(retry);
    retry = setTimeout(async () => {
      retry = undefined;
      try {
        await check((await kv.get(key)).versionstamp);
      } catch {
        if (!closed) retryLater();
      }
    }, RETRY_MS);
    Deno.unrefTimer(retry);
  };
  const check = async (versionstamp: string | null) => {
    if (closed) return;
    // A change seen while the last one is still being handled is handled right after it.
    if (busy) {
      again = versionstamp;
      return;
    }
    busy = true;
    try {
      await onChange(versionstamp);
      failing = false;
    } catch (err) {
      if (!closed) {
        // Said once until it works again, not on every try.
        if (!failing) options.onError?.(err);
        failing = true;
        retryLater();
      }
    } finally {
      busy = false;
    }
    if (again !== undefined) {
      const next = again;
      again = undefined;
      await check(next);
    }
  };
  const poll = async () => {
    if (closed || busy) return;
    try {
      await check((await kv.get(key)).versionstamp);
    } catch { /* the next tick tries again */ }
  };
  const every = (ms: number) => {
    const timer = setInterval(poll, ms);
    Deno.unrefTimer(timer);
    return timer;
  };
  const poller = options.pollMs ? every(options.pollMs) : undefined;

  let reader: ReadableStreamDefaultReader<Deno.KvEntryMaybe<unknown>[]> | undefined;
  let fallback: ReturnType<typeof setInterval> | undefined;
  let rewatch: ReturnType<typeof setTimeout> | undefined;
  let rewatchMs = REWATCH_FIRST_MS;
  let down = false;
  const lost = (err: unknown) => {
    if (closed) return;
    // Said once per outage, not on every failed attempt to watch again.
    if (!down) options.onError?.(err);
    down = true;
    if (!poller && !fallback) fallback = every(FALLBACK_POLL_MS);
    rewatch = setTimeout(watch, rewatchMs);
    Deno.unrefTimer(rewatch);
    rewatchMs = Math.min(rewatchMs * 2, REWATCH_MAX_MS);
  };
  const watch = () => {
    if (closed) return;
    let current: ReadableStreamDefaultReader<Deno.KvEntryMaybe<unknown>[]>;
    try {
      current = kv.watch([key]).getReader();
    } catch (err) {
      lost(err);
      return;
    }
    // Held to cancel it on close: a stream being read cannot be cancelled, its reader can.
    reader = current;
    (async () => {
      try {
        for (;;) {
          const { value, done } = await current.read();
          if (done || closed) break;
          const [entry] = value;
          // Delivering again: polling may stop (this first event carries what it missed).
          down = false;
          rewatchMs = REWATCH_FIRST_MS;
          clearInterval(fallback);
          fallback = undefined;
          await check(entry.versionstamp);
        }
        if (!closed) lost(new Error("the watch ended"));
      } catch (err) {
        lost(err);
      }
    })();
  };
  watch();
  return () => {
    closed = true;
    clearInterval(poller);
    clearInterval(fallback);
    clearTimeout(rewatch);
    clearTimeout(retry);
    reader?.cancel().catch(() => {});
  };
}
