// The configuration document: its shape, its rules, and the import of the original config.json.
import { z } from "zod";
import { STRATEGIES, type Strategy } from "./config.ts";
import { providerKinds } from "./providers/registry.ts";
import { MAX_TOKENS_FIELDS, type UpstreamConfig } from "./providers/types.ts";
import { sliceWhole } from "./whole_chars.ts";
import { isObject } from "./json_value.ts";
import { nestsDeeper } from "./nesting_depth.ts";

export interface ConfigDocument {
  upstream: UpstreamConfig[];
  currentUpstream: number;
  loadBalance: Strategy;
  [extra: string]: unknown;
}

const RESERVED_NAMES = [".", "..", "new"];

const MAX_NAME_LENGTH = 64;

const MAX_KEY_LENGTH = 8192;

/** Far above any model's output limit: a larger `maxTokens` is a typo. */
export const MAX_TOKENS_CAP = 1_000_000;

const httpUrl = z.string().trim().refine((v) => {
  try {
    const u = new URL(v);
    return (u.protocol === "http:" || u.protocol === "https:") && !!u.hostname;
  } catch {
    return false;
  }
}, "must be an http(s) URL such as https://api.openai.com");

// A key with a space or a control character inside is a paste gone wrong: it fails every call.
const ApiKeySchema = z.string().trim().min(1, "a key must not be empty")
  // API keys are tens of characters, tokens a few thousand; more is a file pasted by mistake.
  .max(MAX_KEY_LENGTH, `a key must be at most ${MAX_KEY_LENGTH} characters`)
  .refine((k) => !/[\s\p{Cc}]/u.test(k), "a key must not contain spaces or control characters")
  // Sent in an HTTP header, where only ASCII goes through; `…` is a masked key copied back.
  .refine(
    (k) => !/[^\x21-\x7e]/.test(k) || /[\s\p{Cc}]/u.test(k),
    "a key must be printable ASCII (a masked key such as sk-abc…wxyz is not the key)",
  );

/**
 * Copied with what stood around it in a file or a list: sent so, every upstream refuses it. Only
 * keys being added are held to it: a document stored before keeps serving and taking changes.
 */
const WRAPPED = /^["'`[]|["'`;,\]]$/;

/** Why a key being added would be refused, or undefined. */
export function keyProblem(key: string): string | undefined {
  const result = ApiKeySchema.safeParse(key);
  if (!result.success) return result.error.issues[0]?.message;
  return WRAPPED.test(key.trim())
    ? "a key must not start or end with a quote or a bracket, nor end with , or ; (they are no part of it)"
    : undefined;
}

const BROKEN_TEXT = "must not contain a broken character (a lone surrogate)";
const HIDDEN_TEXT = "must not contain control or invisible characters";
/** No control or invisible character: a line break or a terminal escape splits the CLI's lines
 * and the log's; an invisible or direction-changing one makes a name look like another. */
const shownAsIs = (v: string) => !/[\p{Cc}\p{Cf}]/u.test(v);

// A model name in the map: shown on the pages and by the CLI, and sent upstream as it is.
const ModelNameSchema = z.string().trim().min(1)
  .refine(shownAsIs, HIDDEN_TEXT)
  .refine((v) => v.isWellFormed(), BROKEN_TEXT);

const UpstreamSchema = z.looseObject({
  name: z.string().trim().min(1, "must not be empty")
    .max(MAX_NAME_LENGTH, `must be at most ${MAX_NAME_LENGTH} characters`)
    .regex(/^[^\s/][^/]*$/, "must not contain / or start with a space")
    .refine(shownAsIs, HIDDEN_TEXT)
    // A lone surrogate is no character: no URL (the upstream's pages) can be made of it.
    .refine((v) => v.isWellFormed(), BROKEN_TEXT)
    // Each upstream has pages at /admin/upstreams/<name>: browsers resolve "." and ".." away, and
    // the Add page owns "new".
    .refine((v) => !RESERVED_NAMES.includes(v.toLowerCase()), {
      message: '".", ".." and "new" are reserved by the admin pages',
    }),
  baseUrl: httpUrl.transform(withoutTrailingSlashes),
  serviceType: z.string().trim().superRefine((v, ctx) => {
    if (!providerKinds().includes(v)) {
      ctx.addIssue({ code: "custom", message: `must be one of ${providerKinds().join(", ")}` });
    }
  }),
  // Old files often list a key twice; the second copy adds nothing, so it is dropped, not refused.
  apiKeys: z.array(ApiKeySchema).default([]).transform((list) => [...new Set(list)]),
  models: z.record(ModelNameSchema, ModelNameSchema.min(1, "must not be empty")).optional(),
  fallback: z.string().trim().min(1, "must name another upstream").optional(),
  maxTokens: z.number().int().positive().max(
    MAX_TOKENS_CAP,
    `must be at most ${MAX_TOKENS_CAP.toLocaleString("en-US")}`,
  )
    .optional(),
  maxTokensField: z.enum(MAX_TOKENS_FIELDS).optional(),
  description: z.string()
    .refine((v) => !/[\p{Cc}\u202a-\u202e\u2066-\u2069]/u.test(v.replace(/[\t\n\r]/g, " ")), {
      message: "must not contain control or direction-changing characters",
    })
    .refine((v) => v.isWellFormed(), BROKEN_TEXT)
    .optional(),
});

const DocumentSchema = z.looseObject({
  upstream: z.array(UpstreamSchema).default([]),
  currentUpstream: z.number().int().min(0).default(0),
  loadBalance: z.enum(STRATEGIES, { message: "must be round-robin, random or failover" })
    .optional(),
});

/** Input that is not a valid configuration; `problems` lists every one, with its path. */
export class InvalidConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration: ${problems.join("; ")}`);
    this.name = "InvalidConfigError";
  }
}

export function emptyDocument(strategy: Strategy): ConfigDocument {
  return { upstream: [], currentUpstream: 0, loadBalance: strategy };
}

/**
 * Validates a document (or an original `config.json`) and returns it normalised. Unnamed
 * upstreams get a name, the original `modelMapping` becomes `models`, `openaiold` becomes `openai`.
 * With `freeNames`, names as the original allowed them (shared, with a "/", reserved) are made
 * valid and unique. Throws InvalidConfigError.
 */
export function validateDocument(
  input: unknown,
  defaultStrategy: Strategy,
  options: { freeNames?: boolean } = {},
): ConfigDocument {
  const prepared = prepareLegacy(input, options.freeNames ?? false);
  const result = DocumentSchema.safeParse(prepared);
  const problems =
    (result.success
      ? []
      : result.error.issues.map((i) =>
        `${i.path.length ? i.path.join(".") + ": " : ""}${i.message}`
      ))
      // The rules between upstreams are checked on the raw input too, so one answer lists everything.
      .concat(crossProblems(result.success ? result.data : prepared))
      .concat(nestingProblems(prepared));
  if (problems.length) throw new InvalidConfigError(problems);
  const doc = result.data as ConfigDocument;
  doc.loadBalance ??= defaultStrategy;
  if (doc.upstream.length === 0) doc.currentUpstream = 0;
  return doc;
}

/**
 * Deeper than any setting goes. An upstream keeps members it does not know (a newer version's),
 * at any depth; one nested thousands deep was stored, then broke every copy, export and diff of
 * the document (the stack ran out), so no save on the admin pages went through.
 */
const MAX_SETTING_NESTING = 32;

function nestingProblems(input: unknown): string[] {
  const list = (input as { upstream?: unknown } | null)?.upstream;
  if (!Array.isArray(list)) return [];
  const problems: string[] = [];
  list.forEach((u, i) => {
    if (!isObject(u)) return;
    for (const key in u) {
      if (nestsDeeper(u[key], MAX_SETTING_NESTING)) {
        problems.push(`upstream.${i}.${key}: nested more than ${MAX_SETTING_NESTING} deep`);
      }
    }
  });
  return problems;
}

/** The top-level settings of a document, as the original config.json has them. */
const SETTINGS = ["upstream", "currentUpstream", "loadBalance"];

/**
 * validateDocument for a whole document sent from outside (PUT, import). `upstream` must be there
 * and nothing unknown beside it: `{}` or a typo such as `upstreams` would otherwise be read as "no
 * upstream" and wipe them all. `freeNames` as for validateDocument.
 */
export function validateInput(
  input: unknown,
  defaultStrategy: Strategy,
  options: { freeNames?: boolean } = {},
): ConfigDocument {
  if (!input || typeof input !== "object" || Array.isArray(input)) {
    throw new InvalidConfigError(["the configuration must be a JSON object with an upstream list"]);
  }
  let problems: string[] = [];
  if (!("upstream" in input)) {
    problems.push("upstream: missing (the list of upstreams; [] for none)");
  }
  for (const name of Object.keys(input)) {
    if (!SETTINGS.includes(name)) {
      problems.push(`${name}: unknown setting (a configuration has ${SETTINGS.join(", ")})`);
    }
  }
  const list = (input as { upstream?: unknown }).upstream;
  if (Array.isArray(list)) problems.push(...misspeltSettings(list));
  try {
    const doc = validateDocument(input, defaultStrategy, options);
    if (problems.length === 0) return doc;
  } catch (err) {
    if (!(err instanceof InvalidConfigError)) throw err;
    problems = problems.concat(err.problems);
  }
  throw new InvalidConfigError(problems);
}

/** The settings of an upstream, and the original config.json's own that are read as them. */
const UPSTREAM_SETTINGS = [
  ...Object.keys(UpstreamSchema.shape),
  "modelMapping",
];

/**
 * Unknown settings of an upstream that are a known one misspelt (`maxToken`, `fallbak`, `apikeys`):
 * kept as they are, they would do nothing without a word. Other unknown settings are kept, as an
 * old file may have its own.
 */
function misspeltSettings(list: unknown[]): string[] {
  const problems: string[] = [];
  list.forEach((raw, i) => {
    if (!raw || typeof raw !== "object" || Array.isArray(raw)) return;
    for (const field of Object.keys(raw)) {
      if (UPSTREAM_SETTINGS.includes(field)) continue;
      const meant = UPSTREAM_SETTINGS.find((known) => nearlyEqual(field, known));
      if (meant) problems.push(`upstream.${i}.${field}: unknown setting; did you mean ${meant}?`);
    }
  });
  return problems;
}

/**
 * Case aside, at most one letter added, dropped, changed or two swapped (two for long names), in
 * names of six letters or more.
 */
function nearlyEqual(a: string, b: string): boolean {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  if (x === y) return true;
  const most = y.length >= 8 ? 2 : 1;
  // Short words are too near each other (an old file's own `model` is no `models` misspelt).
  if (Math.abs(x.length - y.length) > most || x.length < 6 || y.length < 6) return false;
  // Optimal string alignment distance, on two rows and the one before them.
  let before = new Array<number>(y.length + 1).fill(0);
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const row = [i];
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      let d = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) {
        d = Math.min(d, before[j - 2] + 1);
      }
      row.push(d);
    }
    [before, prev] = [prev, row];
  }
  return prev[y.length] <= most;
}

/** Unique names, fallbacks that exist, currentUpstream in range. */
function crossProblems(input: unknown): string[] {
  const problems: string[] = [];
  const doc = (input && typeof input === "object" ? input : {}) as Record<string, unknown>;
  const list = Array.isArray(doc.upstream) ? doc.upstream : [];
  const str = (v: unknown) => typeof v === "string" ? v.trim() : undefined;
  const holders = new Map<string, number[]>();
  list.forEach((raw, i) => {
    const u = (raw && typeof raw === "object" ? raw : {}) as Record<string, unknown>;
    const name = str(u.name)?.toLowerCase();
    if (name) holders.set(name, [...holders.get(name) ?? [], i]);
  });
  const names = new Set(holders.keys());
  // Every holder of a shared name is told, so a form editing either one shows it at its Name.
  const duplicates = [...holders.values()].filter((at) => at.length > 1).flat().sort((a, b) =>
    a - b
  );
  for (const i of duplicates) {
    const name = str((list[i] as Record<string, unknown>).name);
    problems.push(`upstream.${i}.name: "${name}" is already used by another upstream`);
  }
  list.forEach((raw, i) => {
    const u = (raw && typeof raw === "object" ? raw : {}) as Record<string, unknown>;
    const fallback = str(u.fallback);
    if (!fallback) return;
    if (fallback.toLowerCase() === str(u.name)?.toLowerCase()) {
      problems.push(`upstream.${i}.fallback: an upstream cannot fall back to itself`);
    } else if (!names.has(fallback.toLowerCase())) {
      problems.push(`upstream.${i}.fallback: no upstream is named "${fallback}"`);
    }
  });
  const current = doc.currentUpstream;
  if (typeof current === "number" && list.length > 0 && current >= list.length) {
    problems.push(`currentUpstream: ${current} is out of range (0-${list.length - 1})`);
  }
  return problems;
}

/** Keys an input listed more than once, by upstream of the validated `doc` (one copy was kept). */
export function repeatedKeys(
  input: unknown,
  doc: ConfigDocument,
): Array<{ upstream: string; count: number }> {
  const list = (input as { upstream?: unknown } | null)?.upstream;
  if (!Array.isArray(list)) return [];
  return doc.upstream.flatMap((u, i) => {
    const keys = (list[i] as { apiKeys?: unknown } | null)?.apiKeys;
    const given = Array.isArray(keys) ? keys.length : 0;
    return given > u.apiKeys.length ? [{ upstream: u.name, count: given - u.apiKeys.length }] : [];
  });
}

/** An upstream whose name an input changed, by its index. */
export interface RenamedUpstream {
  index: number;
  from: string;
  to: string;
}

/** Upstreams the validated `doc` names otherwise than the input did (a name given, not filled in). */
export function renamedUpstreams(input: unknown, doc: ConfigDocument): RenamedUpstream[] {
  const list = (input as { upstream?: unknown } | null)?.upstream;
  if (!Array.isArray(list)) return [];
  return doc.upstream.flatMap((u, index) => {
    const given = (list[index] as { name?: unknown } | null)?.name;
    const from = typeof given === "string" ? given.trim() : "";
    return from && from !== u.name ? [{ index, from, to: u.name }] : [];
  });
}

/**
 * The original proxy allowed unnamed upstreams, a `modelMapping` object and the `openaiold` kind;
 * bring them over. With `freeNames`, its names too: they were free text, here each is a page's
 * address and what a fallback names.
 */
function prepareLegacy(input: unknown, freeNames: boolean): unknown {
  if (!input || typeof input !== "object" || Array.isArray(input)) return input;
  const doc = { ...(input as Record<string, unknown>) };
  if (!Array.isArray(doc.upstream)) return doc;
  const used = new Set<string>();
  for (const u of doc.upstream) {
    if (u && typeof u === "object" && typeof (u as { name?: unknown }).name === "string") {
      used.add((u as { name: string }).name.toLowerCase());
    }
  }
  doc.upstream = doc.upstream.map((raw, i) => {
    if (!raw || typeof raw !== "object") return raw;
    const u = { ...(raw as Record<string, unknown>) };
    // Its `openaiold` was Chat Completions with max_completion_tokens: an `openai` upstream here.
    if (u.serviceType === "openaiold") {
      u.serviceType = "openai";
      u.maxTokensField ??= "max_completion_tokens";
    }
    if (u.name === undefined || u.name === "") {
      let name = `${typeof u.serviceType === "string" ? u.serviceType : "upstream"}-${i + 1}`;
      while (used.has(name.toLowerCase())) name += "-x";
      used.add(name.toLowerCase());
      u.name = name;
    }
    if (u.modelMapping && typeof u.modelMapping === "object") {
      u.models = { ...(u.modelMapping as Record<string, string>), ...(u.models as object ?? {}) };
      delete u.modelMapping;
    }
    return u;
  });
  if (freeNames) makeNamesValid(doc.upstream as unknown[]);
  return doc;
}

/**
 * Renames, in place, upstreams whose name one before it holds, has a "/" or is reserved: "relay"
 * twice becomes "relay" and "relay-2", "OpenRouter/free" "OpenRouter-free", "new" "new-1".
 * Fallbacks follow a renamed upstream.
 */
function makeNamesValid(list: unknown[]): void {
  const entries = list.map((raw) =>
    raw && typeof raw === "object" ? raw as Record<string, unknown> : undefined
  );
  const nameOf = (u: Record<string, unknown> | undefined) =>
    typeof u?.name === "string" ? u.name.trim() : "";
  const holders = new Map<string, number>();
  for (const u of entries) {
    const name = nameOf(u).toLowerCase();
    if (name) holders.set(name, (holders.get(name) ?? 0) + 1);
  }
  const fallbacks = new Set(
    entries.map((u) => typeof u?.fallback === "string" ? u.fallback.trim().toLowerCase() : ""),
  );
  const used = new Set<string>();
  const renaming: number[] = [];
  entries.forEach((u, i) => {
    const name = nameOf(u).toLowerCase();
    if (!name) return;
    // A shared name that a fallback gives is left to be refused: which holder it meant is unknown.
    const ambiguous = holders.get(name)! > 1 && fallbacks.has(name);
    if (!ambiguous && (name.includes("/") || RESERVED_NAMES.includes(name) || used.has(name))) {
      renaming.push(i);
    } else {
      used.add(name);
    }
  });
  const renamed = new Map<string, string>();
  for (const i of renaming) {
    const u = entries[i]!;
    const name = nameOf(u);
    u.name = freeName(name.replaceAll("/", "-"), used);
    used.add((u.name as string).toLowerCase());
    if (holders.get(name.toLowerCase()) === 1) renamed.set(name.toLowerCase(), u.name as string);
  }
  for (const u of entries) {
    if (typeof u?.fallback !== "string") continue;
    u.fallback = renamed.get(u.fallback.trim().toLowerCase()) ?? u.fallback;
  }
}

/** `base`, or `base-N` with the first N that makes it neither reserved nor in `used`. */
function freeName(base: string, used: Set<string>): string {
  const reserved = RESERVED_NAMES.includes(base.toLowerCase());
  if (!reserved && !used.has(base.toLowerCase())) return base;
  for (let n = reserved ? 1 : 2;; n++) {
    const suffix = `-${n}`;
    const name = sliceWhole(base, MAX_NAME_LENGTH - suffix.length) + suffix;
    if (!used.has(name.toLowerCase())) return name;
  }
}

/** The text without its trailing slashes (a loop: a regex backtracks on long runs of them). */
function withoutTrailingSlashes(text: string): string {
  let end = text.length;
  while (end > 0 && text[end - 1] === "/") end--;
  return text.slice(0, end);
}
