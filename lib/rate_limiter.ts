// A per-client fixed-window request counter (per instance; it guards against bursts, not billing).
export class RateLimiter {
  #windows = new Map<string, { start: number; count: number }>();

  constructor(private windowMs: number, private max: number, private now: () => number) {}

  /** Counts one request; returns 0 if allowed, else the ms until the window resets. */
  take(client: string): number {
    const now = this.now();
    let w = this.#windows.get(client);
    if (!w || now - w.start >= this.windowMs) {
      if (this.#windows.size > 10_000) this.#prune(now);
      w = { start: now, count: 0 };
      this.#windows.set(client, w);
    }
    if (w.count >= this.max) return w.start + this.windowMs - now;
    w.count++;
    return 0;
  }

  #prune(now: number): void {
    for (const [k, w] of this.#windows) if (now - w.start >= this.windowMs) this.#windows.delete(k);
  }
}
