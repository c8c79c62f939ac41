// Kept-alive upstream connections per origin, each closed once it idles too long or its server
// ends it.
import { closeQuietly } from "./connect.ts";
import { ConnectionReader } from "./connection_reader.ts";

/**
 * How long an idle connection is kept. A server that closes one sooner is noticed at once (an idle
 * connection always has a read waiting), so a user's next turn seldom pays a new TLS handshake.
 */
const IDLE_KEEP_MS = 60_000;
const MAX_IDLE_PER_ORIGIN = 64;

interface Idle {
  reader: ConnectionReader;
  since: number;
}

export class ConnectionPool {
  readonly #idle = new Map<string, Idle[]>();
  readonly #now: () => number;
  readonly #keepMs: number;
  #shut = false;
  #sweeper?: ReturnType<typeof setInterval>;

  constructor(now: () => number, keepMs = IDLE_KEEP_MS) {
    this.#now = now;
    this.#keepMs = keepMs;
  }

  /** Keeps a connection whose answer was read to its end, for the origin's next request. */
  release(origin: string, conn: Deno.Conn): void {
    let list = this.#idle.get(origin);
    if (!list) this.#idle.set(origin, list = []);
    // An answer read to its end after close() must not leave its connection open.
    if (this.#shut || list.length >= MAX_IDLE_PER_ORIGIN) {
      closeQuietly(conn);
      return;
    }
    const entry: Idle = { reader: new ConnectionReader(conn), since: this.#now() };
    list.push(entry);
    if (this.#sweeper === undefined) {
      this.#sweeper = setInterval(this.#sweep, Math.max(10, this.#keepMs / 4));
      Deno.unrefTimer(this.#sweeper as unknown as number);
    }
    // Anything arriving on an idle connection (its end, mostly) retires it.
    const retire = () => {
      const at = list.indexOf(entry);
      if (at === -1) return;
      list.splice(at, 1);
      closeQuietly(conn);
    };
    entry.reader.wait().then(retire, retire);
  }

  /** The origin's most recently kept connection still within its idle time. */
  reuse(origin: string): ConnectionReader | undefined {
    const list = this.#idle.get(origin);
    while (list?.length) {
      const { reader, since } = list.pop()!;
      if (this.#now() - since < this.#keepMs) return reader;
      closeQuietly(reader.conn);
    }
    return undefined;
  }

  /** Closes the idle connections; those still answering close when their answer ends. */
  close(): void {
    this.#shut = true;
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    const lists = [...this.#idle.values()];
    this.#idle.clear();
    for (const list of lists) for (const { reader } of list.splice(0)) closeQuietly(reader.conn);
  }

  // After a burst, its connections would otherwise stay open until the next request to them.
  readonly #sweep = () => {
    const cutoff = this.#now() - this.#keepMs;
    for (const [origin, list] of this.#idle) {
      while (list.length && list[0].since <= cutoff) closeQuietly(list.shift()!.reader.conn);
      if (!list.length) this.#idle.delete(origin);
    }
    if (this.#idle.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  };
}
