// The configuration document in KV: versioned, written with an atomic check on the version read,
// and mirrored in memory (refreshed by kv.watch) so requests never wait on KV.
import type { Strategy } from "../config.ts";
import {
  type ConfigDocument,
  emptyDocument,
  InvalidConfigError,
  validateDocument,
} from "../config_document.ts";
import { followKey, reportToConsole, type StoreErrorReport } from "./follow_key.ts";
import { keys } from "./keys.ts";

/** KV values are limited to 64 KiB (two bytes a character at worst): the document is chunked. */
const CHUNK_SIZE = 30_000;

/**
 * One KV write takes at most 800 KiB (keys and values together), and the document is saved in one
 * write so that no reader sees half of it. Kept a little under, for what each chunk adds.
 */
const MAX_WRITE_BYTES = 780 * 1024;

/** Someone else saved the configuration since it was read. */
export class ConflictError extends Error {
  constructor() {
    super("The configuration was changed elsewhere since it was loaded; reload and try again");
    this.name = "ConflictError";
  }
}

export interface Snapshot {
  doc: ConfigDocument;
  /** KV versionstamp of the stored document; null before the first save. */
  version: string | null;
}

interface Meta {
  chunks: number;
  updatedAt: number;
}

export class ConfigStore {
  #current: Snapshot;
  #listeners = new Set<(s: Snapshot) => void>();
  #unfollow?: () => void;

  private constructor(
    private kv: Deno.Kv,
    private defaultStrategy: Strategy,
    private report: StoreErrorReport,
    initial: Snapshot,
  ) {
    this.#current = initial;
  }

  /** Loads the stored document and keeps following it. */
  static async open(
    kv: Deno.Kv,
    defaultStrategy: Strategy,
    options: { watch?: boolean; pollMs?: number; onError?: StoreErrorReport } = {},
  ): Promise<ConfigStore> {
    const report = options.onError ?? reportToConsole;
    const store = new ConfigStore(
      kv,
      defaultStrategy,
      report,
      await read(kv, defaultStrategy, report),
    );
    if (options.watch !== false) {
      store.#unfollow = followKey(kv, keys.configMeta(), async (versionstamp) => {
        if (versionstamp !== store.#current.version) {
          store.#publish(await read(kv, defaultStrategy, report));
        }
      }, { pollMs: options.pollMs, onError: (err) => report("config watch", err) });
    }
    return store;
  }

  /** The in-memory configuration: no KV access. */
  get snapshot(): Snapshot {
    return this.#current;
  }

  onChange(listener: (s: Snapshot) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Replaces the document. With `expectedVersion`, fails with ConflictError if the stored one is
   * no longer that version; without, the last save wins. Invalid input throws InvalidConfigError
   * and changes nothing.
   */
  async replace(input: unknown, expectedVersion?: string | null): Promise<Snapshot> {
    const doc = validateDocument(input, this.defaultStrategy);
    const metaKey = keys.configMeta();
    for (let attempt = 0; attempt < 30; attempt++) {
      // Writers that collided wait a random while, so they do not collide again in step.
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
      const meta = await this.kv.get<Meta>(metaKey);
      if (expectedVersion !== undefined && meta.versionstamp !== expectedVersion) {
        throw new ConflictError();
      }
      const snap = await write(this.kv, doc, meta);
      if (snap) {
        this.#publish(snap);
        return snap;
      }
      // Another save landed between the read and the write. The write is still checked against
      // the version read, so that it removes exactly the chunks the stored document has.
    }
    throw new ConflictError();
  }

  /** Re-reads KV now (the watch does this by itself; tests and the CLI may want it at once). */
  async refresh(): Promise<Snapshot> {
    const snap = await read(this.kv, this.defaultStrategy, this.report);
    this.#publish(snap);
    return snap;
  }

  close(): void {
    this.#unfollow?.();
  }

  #publish(snap: Snapshot): void {
    if (this.#current.version === snap.version && snap.version !== null) return;
    this.#current = snap;
    for (const listener of this.#listeners) listener(snap);
  }
}

/** The stored text as a document, or why it is none (no JSON, or no object with an upstream list). */
function storedDocument(text: string): object | Error {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
  return parsed && typeof parsed === "object" &&
      Array.isArray((parsed as { upstream?: unknown }).upstream)
    ? parsed
    : new Error("not an object with an upstream list");
}

/** Chunks read with the meta in one getMany (ten keys at most): one consistent snapshot. */
const FIRST_CHUNKS = 9;

async function read(
  kv: Deno.Kv,
  defaultStrategy: Strategy,
  report: StoreErrorReport,
): Promise<Snapshot> {
  for (let attempt = 0; attempt < 20; attempt++) {
    // Other processes may be writing: a read that met one waits a little, a random while.
    if (attempt > 0) await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * attempt));
    const first = await kv.getMany<unknown[]>([
      keys.configMeta(),
      ...Array.from({ length: FIRST_CHUNKS }, (_, i) => keys.configChunk(i)),
    ]);
    const meta = first[0] as Deno.KvEntryMaybe<Meta>;
    if (!meta.value) return { doc: emptyDocument(defaultStrategy), version: null };
    const chunks = first.slice(1, 1 + meta.value.chunks) as Deno.KvEntryMaybe<string>[];
    for (let i = FIRST_CHUNKS; i < meta.value.chunks; i += 10) {
      const more = Array.from(
        { length: Math.min(10, meta.value.chunks - i) },
        (_, j) => keys.configChunk(i + j),
      );
      chunks.push(...await kv.getMany<string[]>(more));
    }
    // Chunks written with this meta share its versionstamp; anything else is a write in between.
    if (chunks.some((c) => c.versionstamp !== meta.versionstamp)) continue;
    const parsed = storedDocument(chunks.map((c) => c.value).join(""));
    if (parsed instanceof Error) {
      // Nothing can be served from it; a save (an import, a clear) replaces it.
      report(
        "stored configuration is no configuration document, serving none until it is replaced",
        parsed,
      );
      return { doc: emptyDocument(defaultStrategy), version: meta.versionstamp };
    }
    try {
      return { doc: validateDocument(parsed, defaultStrategy), version: meta.versionstamp };
    } catch (err) {
      if (err instanceof InvalidConfigError) {
        report("stored configuration is invalid, serving it unvalidated", err);
        return { doc: parsed as ConfigDocument, version: meta.versionstamp };
      }
      throw err;
    }
  }
  throw new Error("configuration kept changing while being read");
}

async function write(
  kv: Deno.Kv,
  doc: ConfigDocument,
  meta: Deno.KvEntryMaybe<Meta>,
): Promise<Snapshot | null> {
  const text = JSON.stringify(doc);
  const count = Math.max(1, Math.ceil(text.length / CHUNK_SIZE));
  const chunks = Array.from(
    { length: count },
    (_, i) => text.slice(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE),
  );
  refuseOversize(chunks);
  const op = kv.atomic().check(meta).set(
    keys.configMeta(),
    {
      chunks: count,
      updatedAt: Date.now(),
    } satisfies Meta,
  );
  chunks.forEach((chunk, i) => op.set(keys.configChunk(i), chunk));
  for (let i = count; i < (meta.value?.chunks ?? 0); i++) op.delete(keys.configChunk(i));
  const res = await op.commit();
  if (!res.ok) return null;
  return { doc, version: res.versionstamp };
}

/** A document KV would refuse to write is the admin's to trim, said as an invalid one is. */
function refuseOversize(chunks: string[]): void {
  // KV stores a string of Latin-1 characters a byte each, any other two bytes a character.
  const bytes = chunks.reduce(
    (n, c) => n + 64 + (/[\u0100-\uffff]/.test(c) ? 2 * c.length : c.length),
    256,
  );
  if (bytes <= MAX_WRITE_BYTES) return;
  throw new InvalidConfigError([
    `the configuration is too large to store: about ${Math.ceil(bytes / 1024)} KB, at most ` +
    `${MAX_WRITE_BYTES / 1024} KB (remove keys or upstreams, or shorten descriptions)`,
  ]);
}
