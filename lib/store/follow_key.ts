// Follows one KV key for changes: kv.watch, plus optional polling, because on a local KV file
// kv.watch only sees the writes of its own process.

/** Reports what a store cannot throw to anyone: a failed watch, a stored document gone bad. */
export type StoreErrorReport = (message: string, err: unknown) => void;

/** Where a store reports when it was given nowhere else (the CLI). */
export const reportToConsole: StoreErrorReport = (message, err) =>
  console.error(`${message}:`, err);

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
    } catch (err) {
      if (!closed) options.onError?.(err);
    } finally {
      busy = false;
    }
    if (again !== undefined) {
      const next = again;
      again = undefined;
      await check(next);
    }
  };
  const stream = kv.watch([key]);
  (async () => {
    try {
      for await (const [entry] of stream) {
        if (closed) break;
        await check(entry.versionstamp);
      }
    } catch (err) {
      if (!closed) options.onError?.(err);
    }
  })();
  let poller: ReturnType<typeof setInterval> | undefined;
  if (options.pollMs) {
    poller = setInterval(async () => {
      if (closed || busy) return;
      try {
        await check((await kv.get(key)).versionstamp);
      } catch { /* the next tick tries again */ }
    }, options.pollMs);
    Deno.unrefTimer(poller);
  }
  return () => {
    closed = true;
    clearInterval(poller);
    stream.cancel().catch(() => {});
  };
}
