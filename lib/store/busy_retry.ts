// A local KV file shared by several processes (servers, CLI commands) is one SQLite database:
// a write that races another process's write can fail at once with "database is locked" instead
// of waiting its turn. The lock is gone a moment later, so every KV call is tried again for a
// while before the error is let through.

/** The KV file stayed locked by other processes for longer than the retries waited. */
export class StoreBusyError extends Error {
  constructor(cause: unknown) {
    super("The store stayed locked by another process; try again", { cause });
    this.name = "StoreBusyError";
  }
}

/** SQLITE_BUSY / SQLITE_LOCKED as Deno KV reports them. */
export function isBusy(err: unknown): boolean {
  return err instanceof Error &&
    /database (?:table )?is locked|database is busy|SQLITE_BUSY/i.test(err.message);
}

export interface BusyRetryOptions {
  /** Stop retrying once this long has passed since the first try (ms). */
  budgetMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

const BUDGET_MS = 3_000;

/** Runs `fn`, again after a short random wait while it fails because the file is locked. */
export async function retryWhenBusy<T>(
  fn: () => Promise<T>,
  options: BusyRetryOptions = {},
): Promise<T> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms)));
  const started = now();
  for (let attempt = 0;; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isBusy(err)) throw err;
      if (now() - started >= (options.budgetMs ?? BUDGET_MS)) throw new StoreBusyError(err);
      // Random, so processes that collided once do not collide again in step.
      await sleep(Math.min(5 * 2 ** attempt, 100) * (0.5 + Math.random()));
    }
  }
}

/**
 * The same KV with every read and write retried while the file is locked: `get`, `getMany`,
 * `set`, `delete`, `enqueue`, an atomic operation's `commit` and each step of a `list`.
 */
export function retryingKv(kv: Deno.Kv, options: BusyRetryOptions = {}): Deno.Kv {
  const retry = <T>(fn: () => Promise<T>) => retryWhenBusy(fn, options);
  return new Proxy(kv, {
    get(target, prop) {
      switch (prop) {
        case "get":
        case "getMany":
        case "set":
        case "delete":
        case "enqueue": {
          const method = Reflect.get(target, prop) as (...args: unknown[]) => Promise<unknown>;
          return (...args: unknown[]) => retry(() => method.apply(target, args));
        }
        case "atomic":
          return () => {
            const op = target.atomic();
            // An operation only records its checks and mutations: committing it again is safe.
            const commit = op.commit.bind(op);
            op.commit = () => retry(commit);
            return op;
          };
        case "list":
          return (...args: Parameters<Deno.Kv["list"]>) => {
            const iter = target.list(...args);
            // A failed step leaves the iterator where it was, so it may simply be taken again.
            const next = iter.next.bind(iter);
            iter.next = () => retry(next);
            return iter;
          };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
