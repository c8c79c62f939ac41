// The edits an admin can make, shared by the admin pages, the admin JSON API and the CLI, so the
// three cannot drift apart. Each works on a ConfigTarget: the local store or a remote server.
import { STRATEGIES, type Strategy } from "./config.ts";
import {
  type ConfigDocument,
  InvalidConfigError,
  keyProblem,
  type RenamedUpstream,
  renamedUpstreams,
  repeatedKeys,
  validateDocument,
  validateInput,
} from "./config_document.ts";
import { type ConfigDiff, countKeys, diffConfig } from "./config_diff.ts";
import { keyId } from "./key_pool.ts";
import { maskKey } from "./secret_mask.ts";
import { shortHash } from "./short_hash.ts";
import type { MaxTokensField, UpstreamConfig } from "./providers/types.ts";
import { type ConfigStore, ConflictError, type Snapshot } from "./store/config_store.ts";

export { ConflictError, InvalidConfigError };

/** Where the document lives: read it, and write it back if it is still at `version`. */
export interface ConfigTarget {
  /** `fresh`: skip any cache, the last read was stale. */
  read(fresh: boolean): Promise<Snapshot>;
  /** Throws ConflictError when the stored version moved on, InvalidConfigError on bad input. */
  write(doc: unknown, version: string | null): Promise<Snapshot>;
}

export function storeTarget(store: ConfigStore): ConfigTarget {
  return {
    read: (fresh) => fresh ? store.refresh() : Promise.resolve(store.snapshot),
    write: (doc, version) => store.replace(doc, version),
  };
}

/**
 * The store as it is, where a write only validates: what a change would be refused for, with
 * nothing saved (a form that has errors of its own lists the document's too, all at once).
 */
export function checkTarget(store: ConfigStore): ConfigTarget {
  return {
    read: () => Promise.resolve(store.snapshot),
    write: (doc) => {
      validateDocument(doc, "failover");
      return Promise.resolve(store.snapshot);
    },
  };
}

/** The document version as an HTTP entity tag; `"none"` before the first save. */
export function etagOf(version: string | null): string {
  return `"${version ?? "none"}"`;
}

/**
 * An `ETag` / `If-Match` value as a version; undefined when absent or `*` (any version). A weak
 * tag counts as its strong one, against RFC 9110's strong comparison: Deno.serve weakens the
 * ETag of every answer it compresses, so a client that sends back what it was given sends W/.
 */
export function versionFromEtag(header: string | null | undefined): string | null | undefined {
  if (!header || header.trim() === "*") return undefined;
  const tag = header.trim().replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
  return tag === "none" ? null : tag;
}

/**
 * The version an `If-Match` asks for, given the current one: HTTP lets it list several tags, any
 * of which may match. Undefined when absent or `*`.
 */
export function versionFromIfMatch(
  header: string | null | undefined,
  current: string | null,
): string | null | undefined {
  if (!header || header.trim() === "*") return undefined;
  const tags = header.split(",").map(versionFromEtag).filter((t) => t !== undefined);
  return tags.includes(current) ? current : tags[0];
}

/** No upstream answers to the name or index given. */
export class UnknownUpstreamError extends Error {
  constructor(ref: string | number, doc: ConfigDocument) {
    const names = doc.upstream.map((u, i) => `[${i}] ${u.name}`).join(", ");
    // A key pasted where the upstream's name goes is said back masked.
    const shown = typeof ref === "string" && looksLikeKey(ref, doc) ? maskKey(ref) : ref;
    super(
      `No upstream "${shown}"` +
        (names ? ` (the upstreams: ${names})` : " (none is configured yet)"),
    );
    this.name = "UnknownUpstreamError";
  }
}

/** One of the configuration's keys, or a word shaped as providers shape theirs. */
function looksLikeKey(word: string, doc: ConfigDocument): boolean {
  if (doc.upstream.some((u) => u.apiKeys.includes(word))) return true;
  return word.length >= 20 && /^(?:sk-|sk_|AIza|gsk_|xai-|key-|pk-|or-)/.test(word);
}

/** Input the admin must correct (a bad strategy, an unknown key); `field` names the form field. */
export class AdminInputError extends Error {
  constructor(message: string, readonly field?: string) {
    super(message);
    this.name = "AdminInputError";
  }
}

/**
 * An upstream by name, or by index in the list. A string is a name first: the pages address an
 * upstream by its name, whatever it is. `{ indexFirst }` is a CLI argument: a number that is an
 * index is that index, as the original CLI read it, and anything else a name.
 */
export type UpstreamRef = string | number | { indexFirst: string };

/** The index of an upstream given by name (case-insensitive) or by index in the list. */
export function findUpstream(doc: ConfigDocument, ref: UpstreamRef): number {
  if (typeof ref === "object") {
    const given = ref.indexFirst.trim();
    if (/^\d+$/.test(given) && Number(given) < doc.upstream.length) return Number(given);
    ref = ref.indexFirst;
  }
  if (typeof ref === "string") {
    const wanted = ref.trim().toLowerCase();
    const byName = doc.upstream.findIndex((u) => u.name.toLowerCase() === wanted);
    if (byName >= 0) return byName;
    if (!/^\d+$/.test(wanted)) throw new UnknownUpstreamError(ref, doc);
    ref = Number(wanted);
  }
  if (!Number.isInteger(ref) || ref < 0 || ref >= doc.upstream.length) {
    throw new UnknownUpstreamError(ref, doc);
  }
  return ref;
}

/**
 * Applies `change` to the document and saves it. With `expectedVersion` (a form that showed that
 * version) a concurrent save is a ConflictError; without, the change is re-applied to the newer
 * document, as a CLI command or an API call means "do this to whatever is there".
 */
export async function applyChange<T>(
  target: ConfigTarget,
  change: (doc: ConfigDocument) => T,
  expectedVersion?: string | null,
): Promise<{ snapshot: Snapshot; result: T }> {
  for (let attempt = 0; attempt < 30; attempt++) {
    // Writers that collided wait a random while, so they do not collide again in step.
    if (attempt > 0) await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
    let snap = await target.read(attempt > 0);
    // The in-memory snapshot may lag a save made by another instance a moment ago.
    if (expectedVersion !== undefined && snap.version !== expectedVersion && attempt === 0) {
      snap = await target.read(true);
    }
    if (expectedVersion !== undefined && snap.version !== expectedVersion) {
      throw new ConflictError();
    }
    const draft = structuredClone(snap.doc);
    let result: T;
    try {
      result = change(draft);
    } catch (err) {
      // A change that found what it was shown changed: the in-memory snapshot read first may lag
      // the save another instance showed it, so it is checked again against the stored one.
      if (err instanceof ConflictError && attempt === 0) continue;
      throw err;
    }
    try {
      return { snapshot: await target.write(draft, snap.version), result };
    } catch (err) {
      if (err instanceof ConflictError && expectedVersion === undefined) continue;
      throw err;
    }
  }
  throw new ConflictError();
}

/** What an admin may set on an upstream (keys are edited on their own). */
export interface UpstreamInput {
  name: string;
  baseUrl: string;
  serviceType: string;
  description?: string;
  models?: Record<string, string>;
  fallback?: string;
  maxTokens?: number;
  maxTokensField?: MaxTokensField;
}

const EDITABLE = [
  "name",
  "baseUrl",
  "serviceType",
  "description",
  "models",
  "fallback",
  "maxTokens",
  "maxTokensField",
] as const;

function applyInput(u: UpstreamConfig, input: UpstreamInput): void {
  for (const field of EDITABLE) {
    const value = input[field];
    const empty = value === undefined || value === "" ||
      (typeof value === "object" && Object.keys(value).length === 0);
    if (empty && field !== "name" && field !== "baseUrl" && field !== "serviceType") {
      delete u[field];
    } else {
      (u as Record<string, unknown>)[field] = value;
    }
  }
}

/**
 * The document fills in a missing name (old config files had none); an admin who left the name
 * blank made a mistake, so it is refused here instead of being silently replaced.
 */
function requireName(input: UpstreamInput, doc: ConfigDocument, index: number): void {
  if (input.name?.trim()) return;
  const problems = [`upstream.${index}.name: must not be empty`];
  // What else the form gets wrong is said with it, not on the next try: the document checked
  // with a stand-in name.
  const trial = structuredClone(doc);
  const u = structuredClone(doc.upstream[index]) ??
    { name: "", baseUrl: "", serviceType: "", apiKeys: [] };
  applyInput(u, { ...input, name: `unnamed-${crypto.randomUUID()}` });
  trial.upstream[index] = u;
  try {
    validateDocument(trial, "failover");
  } catch (err) {
    if (!(err instanceof InvalidConfigError)) throw err;
    problems.push(...err.problems.filter((p) => !p.startsWith(`upstream.${index}.name`)));
  }
  throw new InvalidConfigError(problems);
}

/** Adds an upstream to whatever is there: only a name taken meanwhile stands in its way. */
export async function addUpstream(
  target: ConfigTarget,
  input: UpstreamInput,
): Promise<Snapshot> {
  const { snapshot } = await applyChange(target, (doc) => {
    requireName(input, doc, doc.upstream.length);
    const u: UpstreamConfig = { name: "", baseUrl: "", serviceType: "", apiKeys: [] };
    applyInput(u, input);
    doc.upstream.push(u);
  });
  return snapshot;
}

/**
 * A stamp of an upstream's settings as its form shows them (not its keys): a form that showed
 * them conflicts only with a change to them, not with one to a key or another upstream.
 */
export function settingsStamp(u: UpstreamConfig): string {
  return shortHash(JSON.stringify(EDITABLE.map((field) => u[field] ?? null)));
}

/**
 * Changes an upstream's settings; a rename carries over the fallbacks that named it. Returns the
 * name as saved. With `shown` (the settingsStamp of a form) a change made to them meanwhile is a
 * ConflictError.
 */
export async function editUpstream(
  target: ConfigTarget,
  ref: UpstreamRef,
  input: UpstreamInput,
  shown?: string,
): Promise<{ snapshot: Snapshot; name: string }> {
  const { snapshot, result } = await applyChange(target, (doc) => {
    const i = findUpstream(doc, ref);
    const u = doc.upstream[i];
    if (shown !== undefined && settingsStamp(u) !== shown) throw new ConflictError();
    requireName(input, doc, i);
    const oldName = u.name;
    applyInput(u, input);
    if (u.name !== oldName) {
      for (const other of doc.upstream) {
        if (other.fallback?.toLowerCase() === oldName.toLowerCase()) other.fallback = u.name;
      }
    }
    return i;
  });
  return { snapshot, name: snapshot.doc.upstream[result].name };
}

/**
 * Maps a requested model name (or `default`, for every name no other entry takes) to the
 * upstream's; `to` undefined removes the entry. Returns the upstream's name and its map as saved.
 */
export async function setModelMapping(
  target: ConfigTarget,
  ref: UpstreamRef,
  from: string,
  to: string | undefined,
): Promise<{ name: string; models: Record<string, string> }> {
  const key = from.trim();
  // "__proto__" would set the map's prototype, not an entry.
  if (!key || key === "__proto__") {
    throw new AdminInputError("Name the requested model (or default) to map", "models");
  }
  if (to !== undefined && !to.trim()) {
    throw new AdminInputError(
      "Name the upstream's model to send (or - to remove the entry)",
      "models",
    );
  }
  const { snapshot, result } = await applyChange(target, (doc) => {
    const i = findUpstream(doc, ref);
    const u = doc.upstream[i];
    const models = { ...u.models };
    if (to === undefined) {
      if (!Object.hasOwn(models, key)) {
        throw new AdminInputError(`Upstream "${u.name}" maps no model "${key}"`, "models");
      }
      delete models[key];
    } else {
      models[key] = to.trim();
    }
    if (Object.keys(models).length) u.models = models;
    else delete u.models;
    return i;
  });
  const u = snapshot.doc.upstream[result];
  return { name: u.name, models: { ...u.models } };
}

/** Removes an upstream; fallbacks that named it are dropped, the current one stays current. */
export async function removeUpstream(
  target: ConfigTarget,
  ref: UpstreamRef,
  expectedVersion?: string | null,
): Promise<{ snapshot: Snapshot; removed: UpstreamConfig }> {
  const { snapshot, result } = await applyChange(target, (doc) => {
    const i = findUpstream(doc, ref);
    const [removed] = doc.upstream.splice(i, 1);
    for (const other of doc.upstream) {
      if (other.fallback?.toLowerCase() === removed.name.toLowerCase()) delete other.fallback;
    }
    if (doc.currentUpstream > i) doc.currentUpstream--;
    else if (doc.currentUpstream === i) doc.currentUpstream = 0;
    return removed;
  }, expectedVersion);
  return { snapshot, removed: result };
}

/** Moves an upstream one place up (-1) or down (+1); the current upstream stays the same one. */
export async function moveUpstream(
  target: ConfigTarget,
  ref: UpstreamRef,
  delta: -1 | 1,
  expectedVersion?: string | null,
): Promise<Snapshot> {
  const { snapshot } = await applyChange(target, (doc) => {
    const i = findUpstream(doc, ref);
    const j = i + delta;
    if (j < 0 || j >= doc.upstream.length) return;
    const current = doc.upstream[doc.currentUpstream];
    [doc.upstream[i], doc.upstream[j]] = [doc.upstream[j], doc.upstream[i]];
    doc.currentUpstream = Math.max(0, doc.upstream.indexOf(current));
  }, expectedVersion);
  return snapshot;
}

export async function useUpstream(
  target: ConfigTarget,
  ref: UpstreamRef,
  expectedVersion?: string | null,
): Promise<{ snapshot: Snapshot; name: string }> {
  const { snapshot, result } = await applyChange(target, (doc) => {
    const i = findUpstream(doc, ref);
    doc.currentUpstream = i;
    return doc.upstream[i].name;
  }, expectedVersion);
  return { snapshot, name: result };
}

export function parseStrategy(value: string): Strategy {
  const v = value.trim().toLowerCase();
  if ((STRATEGIES as readonly string[]).includes(v)) return v as Strategy;
  throw new AdminInputError(
    `Unknown strategy "${value}": use ${STRATEGIES.join(", ")}`,
    "loadBalance",
  );
}

export const STRATEGY_HELP: Record<Strategy, string> = {
  "round-robin": "Each request takes the next key in turn, spreading the load evenly.",
  "random": "Each request takes a key at random.",
  "failover": "Always the first healthy key; the next ones only when it fails or cools down.",
};

/** Sets the strategy; with `shown` (the one a form showed) another set meanwhile is a ConflictError. */
export async function setStrategy(
  target: ConfigTarget,
  strategy: string,
  shown?: string,
): Promise<Snapshot> {
  const s = parseStrategy(strategy);
  const { snapshot } = await applyChange(target, (doc) => {
    if (shown !== undefined && doc.loadBalance !== shown) throw new ConflictError();
    doc.loadBalance = s;
  });
  return snapshot;
}

export interface KeyListParse {
  keys: string[];
  /** Blank entries skipped. */
  blanks: number;
  /** Entries repeated within the input itself. */
  repeated: number;
}

/**
 * A key as pasted from a JSON list, a config file or a script (`["sk-1", "sk-2"]`, `'sk-1'`,
 * `"sk-1";`): without the list's brackets, its quotes and a closing `;`, which no key has.
 */
function unwrapKey(item: string): string {
  let key = item.replace(/^\[+/, "").replace(/[\];]+$/, "").trim();
  const q = key[0];
  if (key.length >= 2 && (q === '"' || q === "'" || q === "`") && key.at(-1) === q) {
    key = key.slice(1, -1).trim();
  }
  return key;
}

/** Splits pasted keys: one a line or comma separated; blanks and repeats are counted, not kept. */
export function parseKeyList(input: string | string[]): KeyListParse {
  const lines = (Array.isArray(input) ? input : [input]).flatMap((s) => s.split(/\r?\n/));
  // A trailing line end is no blank line the admin typed.
  if (lines.length > 1 && !lines.at(-1)!.trim()) lines.pop();
  // A Set, not includes(): thousands of keys may be pasted at once.
  const keys = new Set<string>();
  let blanks = 0;
  let repeated = 0;
  for (const line of lines) {
    const items = line.split(",");
    // Nor is a comma ending a line ("sk-1,\nsk-2,") a blank entry.
    if (items.length > 1 && !items.at(-1)!.trim()) items.pop();
    for (const raw of items) {
      const key = unwrapKey(raw.trim());
      // A JSON list's own brackets, on lines of their own.
      if (!key && /^[[\]]+$/.test(raw.trim())) continue;
      if (!key) blanks++;
      else if (keys.has(key)) repeated++;
      else keys.add(key);
    }
  }
  return { keys: [...keys], blanks, repeated };
}

/** Bad keys named one by one in a refusal; past these, counted. */
const MAX_KEY_PROBLEMS = 5;

export interface AddKeysResult {
  snapshot: Snapshot;
  upstream: string;
  added: number;
  /** Already on the upstream, or repeated in the input. */
  duplicates: number;
  blanks: number;
}

/**
 * A stamp of the server an upstream's keys go to (its kind and base URL): keys pasted on a page
 * that showed one must not go to another that took the name meanwhile.
 */
export function targetStamp(u: UpstreamConfig): string {
  return shortHash(JSON.stringify([u.serviceType, u.baseUrl ?? null]));
}

/**
 * Adds keys to the upstream as it is now: keys it has already are counted, not added again. With
 * `shown` (the targetStamp of a page) an upstream that leads elsewhere now is a ConflictError.
 */
export async function addKeys(
  target: ConfigTarget,
  ref: UpstreamRef,
  input: string | string[],
  shown?: string,
): Promise<AddKeysResult> {
  const parsed = parseKeyList(input);
  if (parsed.keys.length === 0) {
    throw new AdminInputError(
      "No key given: paste one key a line, or separate them by commas",
      "keys",
    );
  }
  // Said by the line each came on, not by its place in the stored document; every bad one at once
  // (a few), so that the paste is mended in one go.
  const problems: string[] = [];
  let bad = 0;
  let lines: string[] | undefined;
  for (const key of parsed.keys) {
    const problem = keyProblem(key);
    if (problem === undefined) continue;
    if (++bad > MAX_KEY_PROBLEMS) continue;
    lines ??= (Array.isArray(input) ? input : [input]).flatMap((t) => t.split(/\r?\n/));
    const line = lines.findIndex((l) => l.split(",").some((p) => unwrapKey(p.trim()) === key)) + 1;
    const said = line ? problem : problem[0].toUpperCase() + problem.slice(1);
    problems.push(`${line ? `Line ${line}: ` : ""}${said} (${maskKey(key)})`);
  }
  if (bad > MAX_KEY_PROBLEMS) problems.push(`and ${bad - MAX_KEY_PROBLEMS} more`);
  if (problems.length) throw new AdminInputError(problems.join("; "), "keys");
  const { snapshot, result } = await applyChange(target, (doc) => {
    const u = doc.upstream[findUpstream(doc, ref)];
    if (shown !== undefined && targetStamp(u) !== shown) throw new ConflictError();
    const had = new Set(u.apiKeys);
    const fresh = parsed.keys.filter((k) => !had.has(k));
    // Not push(...fresh): a paste of some 100,000 keys would overflow the stack.
    for (const k of fresh) u.apiKeys.push(k);
    return { upstream: u.name, added: fresh.length, existing: parsed.keys.length - fresh.length };
  });
  return {
    snapshot,
    upstream: result.upstream,
    added: result.added,
    duplicates: result.existing + parsed.repeated,
    blanks: parsed.blanks,
  };
}

/** The position of a key given as itself, as its id, or as its index in the upstream's list. */
export function findKey(u: UpstreamConfig, which: string): number {
  const w = which.trim();
  let i = u.apiKeys.indexOf(w);
  if (i < 0) i = u.apiKeys.findIndex((k) => keyId(k) === w);
  if (i < 0 && /^\d+$/.test(w) && Number(w) < u.apiKeys.length) i = Number(w);
  if (i < 0) throw new AdminInputError(`Upstream "${u.name}" has no such key`, "key");
  return i;
}

/** Removes the key named (by itself or its id), whatever else changed since it was shown. */
export async function removeKey(
  target: ConfigTarget,
  ref: UpstreamRef,
  which: string,
): Promise<{ snapshot: Snapshot; upstream: string; masked: string; keyId: string }> {
  const { snapshot, result } = await applyChange(target, (doc) => {
    const u = doc.upstream[findUpstream(doc, ref)];
    const [key] = u.apiKeys.splice(findKey(u, which), 1);
    return { upstream: u.name, masked: maskKey(key), keyId: keyId(key) };
  });
  return { snapshot, ...result };
}

/** Removes every upstream and key; the strategy stays. */
export async function clearConfig(
  target: ConfigTarget,
  expectedVersion?: string | null,
): Promise<{ snapshot: Snapshot; upstreams: number; keys: number }> {
  const { snapshot, result } = await applyChange(target, (doc) => {
    const removed = { upstreams: doc.upstream.length, keys: countKeys(doc) };
    doc.upstream = [];
    doc.currentUpstream = 0;
    return removed;
  }, expectedVersion);
  return { snapshot, ...result };
}

/** Parses import text (an export, or the original config.json); throws InvalidConfigError. */
export function parseImport(text: string): unknown {
  try {
    // Windows editors may save JSON with a byte order mark, which JSON.parse refuses.
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    // Engine messages quote the text around the error, and that text may hold a key.
    const where = String(err instanceof Error ? err.message : err)
      .match(/at position \d+(?: \(line \d+ column \d+\))?/)?.[0];
    throw new InvalidConfigError([`not valid JSON${where ? ` (${where})` : ""}`]);
  }
}

export interface ImportPreview {
  doc: ConfigDocument;
  diff: ConfigDiff;
  /** Keys the input listed more than once, by upstream; each is kept once. */
  repeatedKeys: Array<{ upstream: string; count: number }>;
  /** Names the original config.json allowed and a document does not, given another. */
  renamed: RenamedUpstream[];
}

/**
 * The document an import would store, checked, with what it changes. Without a `loadBalance`
 * the current strategy is kept.
 */
export function previewImport(current: ConfigDocument, input: unknown): ImportPreview {
  // The original config.json's names were free text, so an import renames what it must. A PUT
  // (which the CLI's --url edits send too) and the pages refuse such a name instead: there it is
  // the caller's mistake, and renaming it would hide that.
  const doc = validateInput(input, current.loadBalance, { freeNames: true });
  return {
    doc,
    diff: diffConfig(current, doc),
    repeatedKeys: repeatedKeys(input, doc),
    renamed: renamedUpstreams(input, doc),
  };
}

export async function importConfig(
  target: ConfigTarget,
  input: unknown,
  expectedVersion?: string | null,
): Promise<{ snapshot: Snapshot } & Omit<ImportPreview, "doc">> {
  const { snapshot, result } = await applyChange(target, (doc) => {
    const next = previewImport(doc, input);
    for (const k of Object.keys(doc)) delete doc[k];
    Object.assign(doc, next.doc);
    return next;
  }, expectedVersion);
  return {
    snapshot,
    diff: result.diff,
    repeatedKeys: result.repeatedKeys,
    renamed: result.renamed,
  };
}

/** "openai-main listed 2 keys twice; each is kept once" lines for an import's report. */
export function describeRepeatedKeys(repeated: ImportPreview["repeatedKeys"]): string[] {
  return repeated.map(({ upstream, count }) =>
    `${upstream} listed ${count} key${count === 1 ? "" : "s"} more than once; each is kept once`
  );
}

/** What an import's report says beside its diff: names it changed, keys listed twice. */
export function importNotes(
  result: Pick<ImportPreview, "renamed" | "repeatedKeys">,
): string[] {
  return [...describeRenamed(result.renamed), ...describeRepeatedKeys(result.repeatedKeys)];
}

/** `upstream [1] "relay" is named "relay-2": …` lines for an import's report. */
export function describeRenamed(renamed: RenamedUpstream[]): string[] {
  return renamed.map(({ index, from, to }) =>
    `upstream [${index}] "${from}" is named "${to}": a name must be unique, without "/", and ` +
    `not ".", ".." or "new"`
  );
}

/** The document as a file: keys included, so it can be imported elsewhere. */
export function exportConfig(doc: ConfigDocument): string {
  return JSON.stringify(doc, null, 2) + "\n";
}

/**
 * Problems from validateDocument, by field of upstream `index`; the rest under "", naming the
 * other upstream by its entry in `names` (the document's names) when given.
 */
export function problemsByField(
  problems: string[],
  index: number,
  names: string[] = [],
): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  // A name shared with another upstream is one problem, said at this one's Name: the other's half
  // of it would read as if that upstream were at fault.
  const shared = (p: string) => p.endsWith("is already used by another upstream");
  const ownShared = problems.some((p) => p.startsWith(`upstream.${index}.name: `) && shared(p));
  for (const p of problems) {
    let field = "";
    let message = p;
    const m = p.match(/^upstream\.(\d+)\.([A-Za-z]+)(?:\.[^:]*)?: (.*)$/);
    if (m && Number(m[1]) === index) {
      [, , field, message] = m;
    } else if (m && ownShared && m[2] === "name" && shared(p)) {
      continue;
    } else if (m && names[Number(m[1])] !== undefined) {
      message = `Upstream “${names[Number(m[1])]}”, ${m[2]}: ${m[3]}`;
    }
    (out[field] ??= []).push(message);
  }
  return out;
}
