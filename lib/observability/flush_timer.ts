// Runs a background write a while after it is first needed (or at once when a batch is full), one
// run at a time, on an unref'd timer so it never keeps the process or a test alive.

export class FlushTimer {
  #timer?: ReturnType<typeof setTimeout>;
  #running?: Promise<void>;
  #closed = false;
  /** The scheduled run is the immediate kind: asking again changes nothing. */
  #soon = false;

  constructor(
    private intervalMs: number,
    private run: () => Promise<void>,
    private onError: (err: unknown) => void,
  ) {}

  /** Schedules a run in `intervalMs` (or right away when `now`), unless one is already due. */
  poke(now = false): void {
    if (this.#closed) return;
    if (this.#timer !== undefined) {
      if (!now || this.#soon) return;
      clearTimeout(this.#timer);
    }
    this.#soon = now;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flush().catch(this.onError);
    }, now ? 0 : this.intervalMs);
    Deno.unrefTimer(this.#timer);
  }

  /** Runs now, after any run in progress; resolves when everything queued so far is written. */
  async flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    while (this.#running) await this.#running;
    this.#running = this.run().catch(this.onError).finally(() => {
      this.#running = undefined;
    });
    await this.#running;
  }

  /** Stops scheduling; a run in progress finishes on its own. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** A run in progress, if any (to wait for before closing the store under it). */
  get idle(): Promise<void> {
    return this.#running ?? Promise.resolve();
  }
}
