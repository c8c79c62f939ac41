// `deno task config <cmd>`: the original proxy's configuration CLI, on the local store (KV_PATH) or
// on a running server (--url, through the admin JSON API). Same service functions as the pages.
import { messageOf } from "./errors.ts";
import {
  addKeys,
  addUpstream,
  AdminInputError,
  clearConfig,
  type ConfigTarget,
  ConflictError,
  etagOf,
  exportConfig,
  findUpstream,
  importConfig,
  importNotes,
  InvalidConfigError,
  parseImport,
  problemsByField,
  removeKey,
  removeUpstream,
  setModelMapping,
  setStrategy,
  storeTarget,
  UnknownUpstreamError,
  type UpstreamRef,
  useUpstream,
  versionFromEtag,
} from "./admin_service.ts";
import {
  type Config,
  ConfigError,
  environment,
  exportRuntimeVars,
  mergeEnv,
  parseConfig,
  readDotEnv,
} from "./config.ts";
import type { ConfigDiff } from "./config_diff.ts";
import { STRATEGIES } from "./config.ts";
import type { ConfigDocument } from "./config_document.ts";
import { maskKey, maskUrl } from "./secret_mask.ts";
import { healthIndex } from "./key_pool.ts";
import { keyStatuses, type UpstreamStatus } from "./key_status.ts";
import { providerKinds } from "./providers/registry.ts";
import { StoreBusyError } from "./store/busy_retry.ts";
import { ConfigStore } from "./store/config_store.ts";
import { KeyHealthStore } from "./store/key_health_store.ts";
import { openKv, storeOpenProblem } from "./store/open_kv.ts";
import { readUpTo } from "./body_read.ts";
import { shellWord } from "./shell_word.ts";

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** The environment (a `.env` in the working directory fills what it lacks). */
  env: Record<string, string | undefined>;
  /** For tests: a .env path other than ./.env, or null for none. */
  dotEnvPath?: string | null;
  /** For tests: how the local store is opened (KV_PATH by default). */
  openKv?: (config: Config) => Promise<Deno.Kv>;
  /** Standard input, read whole (keys given as `-`). */
  stdin?: () => Promise<string>;
  /** Whether variables Deno itself reads (a proxy) that only `.env` gives go to the process. */
  exportEnv?: boolean;
  /** For tests: how long a server at --url is waited on (REMOTE_TIMEOUT_MS by default). */
  remoteTimeoutMs?: number;
}

const USAGE = `Usage: deno task config [--url http://host:port] <command>

Commands:
  show                               the configuration, keys masked
  add <name> <baseUrl> <serviceType> add an upstream (${providerKinds().join(", ")})
  remove <upstream>                  delete an upstream and its keys
  use <upstream>                     make an upstream the current one
  model <upstream> <model> <to>      send a requested model (a name, a family such as sonnet,
                                     or default for the rest) as the upstream's model <to>;
                                     "-" for <to> removes the entry
  key <upstream> add <key...>        add keys (duplicates are skipped); "-" reads them from
                                     standard input, one per line, out of the shell's history
  key <upstream> list                the upstream's keys, masked, with their state
  key <upstream> remove <key>        delete a key (the key, its index or its id)
  balance <strategy>                 ${STRATEGIES.join(", ")}
  clear                              delete every upstream and key
  import <config.json>               replace the configuration with a file's (an export, or
                                     the original proxy's config.json)
  export                             the configuration as JSON, keys included, on stdout
  help                               this text

An <upstream> is its index as "show" prints it or its name (any case); a number is an index
first, as in the original CLI, and a name only when no upstream has that index. "add" also takes
<serviceType> before <baseUrl>, as the original CLI's later versions did.
Without --url the store at KV_PATH is edited directly. With --url the command goes to a running
server's admin API, authenticated with ADMIN_PASSWORD from the environment.
`;

/** A mistake in the command line itself. */
class UsageError extends Error {}

/** A mistyped word, said back: masked when long enough to be a key pasted in the wrong place. */
function asTyped(word: string): string {
  return word.length >= 20 ? maskKey(word) : word;
}

class RemoteError extends Error {}

/** The local store (KV_PATH) could not be opened. */
class StoreOpenError extends Error {}

/** Whoever read stdout has closed it. */
class StdoutClosed extends Error {}

interface Backend {
  target: ConfigTarget;
  keyStatus(): Promise<UpstreamStatus[]>;
  close(): void;
}

export async function runCli(args: string[], io: CliIo): Promise<number> {
  const raw = (text: string) => {
    try {
      io.stdout(text);
    } catch (e) {
      throw e instanceof Deno.errors.BrokenPipe ? new StdoutClosed() : e;
    }
  };
  const out = (line = "") => raw(line + "\n");
  const err = (line: string) => {
    try {
      io.stderr(line + "\n");
    } catch (e) {
      // Nobody reads stderr either; the exit code still tells.
      if (!(e instanceof Deno.errors.BrokenPipe)) throw e;
    }
  };
  let backend: Backend | undefined;
  try {
    const { url, rest } = splitOptions(args);
    const [command, ...params] = rest;
    if (command === "help" || command === "--help" || command === "-h") {
      raw(USAGE);
      return 0;
    }
    // A script that lost its argument must not pass for one that did its work.
    if (!command) {
      err(USAGE.trimEnd());
      return 2;
    }
    const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
    if (!run) throw new UsageError(`Unknown command "${asTyped(command)}".`);
    const dotEnvPath = io.dotEnvPath === undefined ? ".env" : io.dotEnvPath;
    const fileVars = dotEnvPath ? readDotEnv(dotEnvPath) : {};
    const vars = mergeEnv(fileVars, io.env);
    if (io.exportEnv) exportRuntimeVars(fileVars, io.env);
    backend = url
      ? remoteBackend(url, vars.ADMIN_PASSWORD, io.remoteTimeoutMs)
      : await localBackend(vars, io.openKv ?? openKv);
    await run(params, backend, out, raw, err, io.stdin ?? readStdin);
    return 0;
  } catch (e) {
    // `| head` took what it wanted; the command itself had done its work.
    if (e instanceof StdoutClosed) return 0;
    if (e instanceof UsageError) {
      err(e.message);
      err("Run `deno task config help` for the commands.");
      return 2;
    }
    if (e instanceof InvalidConfigError) {
      err("Refused, the configuration would be invalid:");
      for (const p of e.problems) err(`  - ${p}`);
      return 1;
    }
    if (e instanceof ConflictError || e instanceof StoreBusyError) {
      err("The configuration kept changing while this command ran; try again.");
      return 1;
    }
    if (
      e instanceof UnknownUpstreamError || e instanceof AdminInputError ||
      e instanceof RemoteError || e instanceof ConfigError || e instanceof StoreOpenError
    ) {
      err(e.message);
      return 1;
    }
    throw e;
  } finally {
    backend?.close();
  }
}

type Command = (
  params: string[],
  b: Backend,
  out: (line?: string) => void,
  raw: (text: string) => void,
  warn: (line: string) => void,
  stdin: () => Promise<string>,
) => Promise<void>;

async function readStdin(): Promise<string> {
  return await new Response(Deno.stdin.readable).text();
}

function arity(params: string[], n: number, usage: string): void {
  if (params.length !== n) throw new UsageError(`Usage: deno task config ${usage}`);
}

const COMMANDS: Record<string, Command> = {
  async show(params, b, out) {
    arity(params, 0, "show");
    const { doc } = await b.target.read(true);
    printDocument(doc, out);
  },

  async add(params, b, out) {
    arity(params, 3, "add <name> <baseUrl> <serviceType>");
    const [name, second, third] = params;
    // The original CLI's later versions took the kind before the URL; a kind is never a URL.
    const kindFirst = providerKinds().includes(second.trim()) && !providerKinds().includes(third);
    const [baseUrl, serviceType] = kindFirst ? [third, second] : [second, third];
    const names = (await b.target.read(true)).doc.upstream.map((u) => u.name);
    try {
      const snap = await addUpstream(b.target, { name, baseUrl, serviceType });
      const i = snap.doc.upstream.findIndex((u) => u.name === name.trim());
      // A name that is a number would be read as an index.
      const ref = /^\d+$/.test(name.trim()) ? i : shellWord(name.trim());
      out(`Added upstream [${i}] ${name}. Add its keys: deno task config key ${ref} add <key...>`);
    } catch (e) {
      if (!(e instanceof InvalidConfigError)) throw e;
      // Point at the argument, not at a path inside the document; a name already taken is said
      // of the new upstream, not again of the one holding it.
      const others = new RegExp(
        `^upstream\\.(?!${names.length}\\.)\\d+\\.name: .* is already used`,
      );
      const own = e.problems.filter((p) => !others.test(p));
      const byField = problemsByField(own, names.length, names);
      throw new InvalidConfigError(
        Object.entries(byField).flatMap(([f, msgs]) => msgs.map((m) => f ? `${f}: ${m}` : m)),
      );
    }
  },

  async remove(params, b, out) {
    arity(params, 1, "remove <upstream>");
    const { removed } = await removeUpstream(b.target, { indexFirst: params[0] });
    out(`Removed upstream ${removed.name} and its ${removed.apiKeys.length} key(s).`);
  },

  async use(params, b, out) {
    arity(params, 1, "use <index|name>");
    const { name } = await useUpstream(b.target, { indexFirst: params[0] });
    out(`Current upstream: ${name}.`);
  },

  async model(params, b, out) {
    arity(params, 3, "model <upstream> <model|default> <upstream model|->");
    const [ref, from, to] = params;
    const { name, models } = await setModelMapping(
      b.target,
      { indexFirst: ref },
      from,
      to.trim() === "-" ? undefined : to,
    );
    const entries = Object.entries(models);
    out(
      `Models of ${name}: ` +
        (entries.length
          ? entries.map(([k, v]) => `${k} → ${v}`).join(", ")
          : "none mapped, each sent as requested") +
        ".",
    );
  },

  async balance(params, b, out) {
    arity(params, 1, `balance <${STRATEGIES.join("|")}>`);
    const snap = await setStrategy(b.target, params[0]);
    out(`Strategy: ${snap.doc.loadBalance}.`);
  },

  async clear(params, b, out) {
    arity(params, 0, "clear");
    const r = await clearConfig(b.target);
    out(`Removed ${r.upstreams} upstream(s) and ${r.keys} key(s).`);
  },

  async import(params, b, out, _raw, warn) {
    arity(params, 1, "import <config.json>");
    let text: string;
    try {
      // Its stream closes the file once read, or once refused.
      const file = await Deno.open(params[0]);
      text = await readConfigText(file.readable, params[0]);
    } catch (e) {
      if (e instanceof AdminInputError) throw e;
      throw new AdminInputError(
        `Cannot read ${params[0]}: ${messageOf(e)}`,
      );
    }
    const imported = await importConfig(b.target, parseImport(text));
    const { snapshot, diff } = imported;
    for (const line of importNotes(imported)) warn(`Note: ${line}.`);
    out(`Imported ${params[0]}: ${snapshot.doc.upstream.length} upstream(s).`);
    for (const line of describeDiff(diff)) out(`  ${line}`);
  },

  async export(params, b, _out, raw) {
    arity(params, 0, "export");
    const { doc } = await b.target.read(true);
    raw(exportConfig(doc));
  },

  async key(params, b, out, _raw, _warn, stdin) {
    const [ref, action, ...rest] = params;
    if (!ref || !action) {
      throw new UsageError("Usage: deno task config key <upstream> add|list|remove ...");
    }
    const run = Object.hasOwn(KEY_ACTIONS, action) ? KEY_ACTIONS[action] : undefined;
    if (!run) {
      throw new UsageError(`Unknown key action "${asTyped(action)}": use add, list or remove.`);
    }
    await run({ indexFirst: ref }, rest, b, out, stdin);
  },
};

/** `key <upstream> <action> ...`: the action's own words, after the upstream. */
type KeyAction = (
  ref: UpstreamRef,
  params: string[],
  b: Backend,
  out: (line?: string) => void,
  stdin: () => Promise<string>,
) => Promise<void>;

const KEY_ACTIONS: Record<string, KeyAction> = {
  async add(ref, given, b, out, stdin) {
    if (given.length === 0) {
      throw new UsageError("Usage: deno task config key <upstream> add <key...|->");
    }
    const piped = given.includes("-");
    if (piped && given.length > 1) {
      throw new UsageError('Give either typed keys or "-" (keys on standard input), not both.');
    }
    // Typed keys stay in the shell's history and in what `deno task` echoes; piped ones do not.
    const keys = piped
      ? (await stdin()).split(/\r?\n/).map((line) => line.trim()).filter(Boolean)
      : given;
    if (keys.length === 0) throw new UsageError("No key on standard input (one per line).");
    const r = await addKeys(b.target, ref, keys);
    const skipped = r.duplicates ? ` (skipped ${r.duplicates} duplicate(s))` : "";
    out(`Added ${r.added} key(s) to ${r.upstream}${skipped}.`);
  },

  async list(ref, params, b, out) {
    arity(params, 0, "key <upstream> list");
    const { doc } = await b.target.read(true);
    const index = findUpstream(doc, ref);
    const status =
      (await b.keyStatus()).find((u) => u.index === index && u.name === doc.upstream[index].name) ??
        keyStatuses(doc, [])[index];
    out(`${status.name}: ${status.keys.length} key(s)`);
    for (const k of status.keys) {
      const state = k.state === "disabled"
        ? `disabled (${k.reason})`
        : k.state === "cooldown"
        ? `cooling down until ${new Date(k.until ?? 0).toISOString()} (${k.model})`
        : "active";
      out(`  [${k.index}] ${k.masked}  ${state}  id ${k.keyId}`);
    }
  },

  async remove(ref, params, b, out) {
    arity(params, 1, "key <upstream> remove <key>");
    const r = await removeKey(b.target, ref, params[0]);
    out(`Removed key ${r.masked} from ${r.upstream}.`);
  },
};

function printDocument(doc: ConfigDocument, out: (line?: string) => void): void {
  out(`Strategy: ${doc.loadBalance}`);
  if (doc.upstream.length === 0) {
    out("No upstream configured. Add one: deno task config add <name> <baseUrl> <serviceType>");
    return;
  }
  out(`Current:  [${doc.currentUpstream}] ${doc.upstream[doc.currentUpstream]?.name ?? "none"}`);
  doc.upstream.forEach((u, i) => {
    out();
    out(`[${i}] ${u.name}${i === doc.currentUpstream ? "  (current)" : ""}`);
    if (typeof u.description === "string" && u.description) out(`    ${u.description}`);
    out(`    kind:     ${u.serviceType}`);
    out(`    base URL: ${maskUrl(u.baseUrl)}`);
    out(`    keys:     ${u.apiKeys.length ? u.apiKeys.map(maskKey).join(", ") : "none"}`);
    if (u.models && Object.keys(u.models).length) {
      out(
        `    models:   ${Object.entries(u.models).map(([k, v]) => `${k} → ${v}`).join(", ")}`,
      );
    }
    if (u.fallback) out(`    fallback: ${u.fallback}`);
    if (u.maxTokens) out(`    max tokens: ${u.maxTokens}`);
    if (u.maxTokensField) out(`    token field: ${u.maxTokensField}`);
  });
}

function describeDiff(d: ConfigDiff): string[] {
  if (!d.hasChanges) return ["no change"];
  const lines: string[] = [];
  for (const n of d.added) lines.push(`+ ${n}`);
  for (const n of d.removed) lines.push(`- ${n}`);
  for (const c of d.changed) {
    const parts = [
      c.fields.length ? c.fields.join(", ") : "",
      c.keysAdded ? `+${c.keysAdded} key(s)` : "",
      c.keysRemoved ? `-${c.keysRemoved} key(s)` : "",
    ].filter(Boolean);
    lines.push(`~ ${c.name}: ${parts.join("; ")}`);
  }
  lines.push(`keys: ${d.keys.before} → ${d.keys.after}`);
  if (d.strategy) lines.push(`strategy: ${d.strategy.before} → ${d.strategy.after}`);
  if (d.current) {
    lines.push(`current: ${d.current.before ?? "none"} → ${d.current.after ?? "none"}`);
  }
  return lines;
}

function splitOptions(args: string[]): { url?: string; rest: string[] } {
  const rest: string[] = [];
  let url: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--url") {
      url = args[++i];
      if (!url) throw new UsageError("--url needs a value, such as --url http://localhost:3000");
    } else if (a.startsWith("--url=")) {
      url = a.slice("--url=".length);
    } else {
      rest.push(a);
    }
  }
  if (url !== undefined) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
      throw new UsageError(
        `--url must be an http(s) URL such as http://localhost:3000 (got "${url}")`,
      );
    }
  }
  return { url, rest };
}

async function localBackend(
  vars: Record<string, string | undefined>,
  open: (config: Config) => Promise<Deno.Kv>,
): Promise<Backend> {
  const config: Config = parseConfig(vars);
  let kv: Deno.Kv;
  try {
    kv = await open(config);
  } catch (e) {
    throw new StoreOpenError(storeOpenProblem(config, e));
  }
  const store = await ConfigStore.open(kv, config.loadBalanceStrategy, { watch: false });
  return {
    target: storeTarget(store),
    async keyStatus() {
      const health = await KeyHealthStore.open(kv, {
        watch: false,
        index: () => healthIndex(store.snapshot),
      });
      health.close();
      return keyStatuses(store.snapshot.doc, health.list());
    },
    close() {
      store.close();
      kv.close();
    },
  };
}

/**
 * Far past any configuration (the store holds under a megabyte): a file or an answer this large is
 * something else (/dev/zero, a server streaming without end), not read on.
 */
const MAX_CONFIG_READ = 8 * 1024 * 1024;
/** A running server answers its admin API at once; one that does not is not waited on for good. */
const REMOTE_TIMEOUT_MS = 30_000;

/** A file or stream's text, up to MAX_CONFIG_READ; longer is an AdminInputError. */
async function readConfigText(body: ReadableStream<Uint8Array> | null, what: string) {
  const { bytes, complete } = await readUpTo(body, MAX_CONFIG_READ);
  if (!complete) {
    throw new AdminInputError(
      `${what} is larger than ${MAX_CONFIG_READ >> 20} MB: no configuration`,
    );
  }
  return new TextDecoder().decode(bytes);
}

function remoteBackend(
  base: string,
  password: string | undefined,
  timeoutMs = REMOTE_TIMEOUT_MS,
): Backend {
  if (!password) {
    throw new RemoteError("Set ADMIN_PASSWORD (the server's admin password) to use --url.");
  }
  const call = async (method: string, path: string, init: RequestInit = {}) => {
    const url = new URL(`/admin/api${path}`, base);
    let res: Response;
    let text: string;
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      res = await fetch(url, {
        ...init,
        method,
        headers: { authorization: `Bearer ${password}`, ...init.headers as Record<string, string> },
        signal,
      });
      text = await readConfigText(res.body, `The answer of ${url.origin}`);
    } catch (e) {
      if (e instanceof AdminInputError) throw new RemoteError(e.message);
      throw new RemoteError(
        signal.aborted
          ? `${url.origin} did not answer within ${timeoutMs / 1000} s: is --url right?`
          : `Cannot reach ${url.origin}: ${messageOf(e)}`,
      );
    }
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    return { res, body };
  };
  const failure = (res: Response, body: unknown): Error => {
    const error = (body as { error?: { message?: string; problems?: string[] } } | undefined)
      ?.error;
    if (res.status === 400 && error?.problems) return new InvalidConfigError(error.problems);
    if (res.status === 412 || res.status === 409) return new ConflictError();
    if (res.status === 401) return new RemoteError("The server refused ADMIN_PASSWORD.");
    return new RemoteError(
      `The server answered ${res.status}${error?.message ? `: ${error.message}` : ""}`,
    );
  };
  // A server at --url that is no such proxy may answer 200 too.
  const notTheProxy = () =>
    new RemoteError(
      `The server at ${new URL(base).origin} answered with something that is not this proxy's ` +
        "admin API: is --url right?",
    );
  const configOf = (body: unknown): ConfigDocument => {
    if (!Array.isArray((body as { upstream?: unknown } | undefined)?.upstream)) throw notTheProxy();
    return body as ConfigDocument;
  };
  return {
    target: {
      async read() {
        const { res, body } = await call("GET", "/config");
        if (!res.ok) throw failure(res, body);
        return {
          doc: configOf(body),
          version: versionFromEtag(res.headers.get("etag")) ?? null,
        };
      },
      async write(doc, version) {
        const { res, body } = await call("PUT", "/config", {
          headers: { "content-type": "application/json", "if-match": etagOf(version) },
          body: JSON.stringify(doc),
        });
        if (!res.ok) throw failure(res, body);
        return {
          doc: configOf(body),
          version: versionFromEtag(res.headers.get("etag")) ?? null,
        };
      },
    },
    async keyStatus() {
      const { res, body } = await call("GET", "/keys/status");
      if (!res.ok) throw failure(res, body);
      const upstreams = (body as { upstreams?: unknown } | undefined)?.upstreams;
      if (!Array.isArray(upstreams)) throw notTheProxy();
      return upstreams as UpstreamStatus[];
    },
    close() {},
  };
}

if (import.meta.main) {
  const encoder = new TextEncoder();
  const write = (stream: typeof Deno.stdout) => (text: string) => {
    const bytes = encoder.encode(text);
    let off = 0;
    while (off < bytes.length) off += stream.writeSync(bytes.subarray(off));
  };
  Deno.exit(
    await runCli(Deno.args, {
      stdout: write(Deno.stdout),
      stderr: write(Deno.stderr),
      env: environment(),
      exportEnv: true,
    }),
  );
}
