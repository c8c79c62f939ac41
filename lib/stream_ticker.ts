// The shared clock of open streams and bodies being read: the hold, pings, the silence watchdog,
// the drain and the request body's deadline all check on one interval per tick length instead of
// a timer each.
import type { Config } from "./config.ts";

/** Fine enough for the ping interval and the silence limit, never finer than 50 ms. */
export function tickFor(config: Config): number {
  return Math.max(50, Math.min(1000, config.streamPingInterval / 2, config.requestTimeout / 4));
}

const streamWatchers = new Map<number, Set<() => void>>();
/** An interval outlives its last stream a while: one client's back-to-back requests do not each
 * start and stop it. */
const IDLE_TICKS = 20;

/** Calls `check` every `tick` ms until the returned function is called. */
export function watchStream(tick: number, check: () => void): () => void {
  let checks = streamWatchers.get(tick);
  if (!checks) {
    const group = checks = new Set<() => void>();
    let idle = 0;
    const timer = setInterval(() => {
      if (group.size === 0) {
        if (++idle >= IDLE_TICKS) {
          clearInterval(timer);
          streamWatchers.delete(tick);
        }
        return;
      }
      idle = 0;
      for (const c of group) c();
    }, tick);
    // An idle interval must not keep the process (or a test) alive.
    Deno.unrefTimer(timer);
    streamWatchers.set(tick, group);
  }
  const group = checks;
  group.add(check);
  return () => group.delete(check);
}

export const EXPIRED = Symbol("expired");

/** What `promise` settles to, or EXPIRED if it has not by `deadline` (checked on the shared tick). */
export async function beforeDeadline<T>(
  promise: Promise<T>,
  deadline: number | (() => number),
  tick: number,
  now: () => number,
): Promise<T | typeof EXPIRED> {
  const due = typeof deadline === "number" ? () => deadline : deadline;
  if (now() >= due()) return EXPIRED;
  let unwatch: (() => void) | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<typeof EXPIRED>((resolve) => {
        unwatch = watchStream(tick, () => {
          if (now() >= due()) resolve(EXPIRED);
        });
      }),
    ]);
  } finally {
    unwatch?.();
  }
}
