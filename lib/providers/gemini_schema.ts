// JSON Schema (2020-12, as Claude Code and MCP tools write it) → the OpenAPI subset Gemini's
// `Schema` proto accepts. Gemini's parser rejects the whole request for one unknown keyword, so this
// writes only the keywords it knows, inlines `$ref`s and turns what Gemini cannot express into
// something it can.
import { isObject } from "../json_value.ts";

/** A Gemini `Schema` object (REST, camelCase, upper-case type names). */
export type GeminiSchema = Record<string, unknown>;

/**
 * Where in a call's arguments the cleaned schema asks Gemini for JSON text instead of the value
 * (free-form objects, untyped values, non-string enums). `null` stands for every item of an array.
 */
export type JsonPath = readonly (string | null)[];

export interface CleanedSchema {
  /** Undefined when nothing is left to declare (a tool without parameters). */
  schema: GeminiSchema | undefined;
  /** Paths whose string values must be JSON-decoded to give the client the value it expects. */
  jsonPaths: JsonPath[];
}

const MAX_DEPTH = 48;
/**
 * Far more nodes than any tool's schema has. Each `$ref` is inlined where it is used, so refs that
 * share a ref grow as 2^depth: a 2 KB schema of 20 such levels took the event loop for seconds and
 * 620 MB; past this, what is left is declared a JSON value.
 */
const MAX_NODES = 10_000;
const JSON_NOTE = "(Give this value as JSON text.)";
type Kind = "string" | "number" | "integer" | "boolean" | "array" | "object";
const KINDS = new Set<string>(["string", "number", "integer", "boolean", "array", "object"]);
type Obj = Record<string, unknown>;

interface Walk {
  root: Obj;
  refs: string[];
  paths: JsonPath[];
  /** Schema nodes made so far, against MAX_NODES. */
  nodes: number;
  /** Tool parameters: the root must stay one OBJECT, it cannot be an anyOf. */
  objectRoot?: boolean;
}

/** Cleans any schema (a property, a `responseSchema`). */
export function cleanGeminiSchema(schema: unknown): CleanedSchema {
  const root = isObject(schema) ? schema : {};
  const walk: Walk = { root, refs: [], paths: [], nodes: 0 };
  const out = clean(schema, walk, [], 0);
  return { schema: out, jsonPaths: walk.paths };
}

/**
 * Cleans a tool's `input_schema` into `functionDeclarations[].parameters`, which must be an OBJECT
 * with at least one property: a tool without any gets no `parameters` at all.
 */
export function cleanToolParameters(schema: unknown): CleanedSchema {
  if (!isObject(schema)) return { schema: undefined, jsonPaths: [] };
  const root = schema;
  const walk: Walk = { root, refs: [], paths: [], nodes: 0, objectRoot: true };
  const node = resolve(schema, walk, []);
  if (!node.type && !node.properties && !node.$ref) node.type = "object";
  const out = clean(node, walk, [], 0);
  if (out.type !== "OBJECT" || !out.properties) return { schema: undefined, jsonPaths: [] };
  return { schema: out, jsonPaths: walk.paths };
}

/** Replaces the JSON text Gemini wrote at `paths` by the values it stands for (in place). */
export function decodeJsonPaths(args: unknown, paths: readonly JsonPath[]): unknown {
  for (const path of paths) args = apply(args, path, 0, decodeValue);
  return args;
}

/** JSON text with the values at `paths` decoded; text that is no JSON (cut short) stays as it is. */
export function decodeJsonText(text: string, paths: readonly JsonPath[]): string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return text;
  }
  return JSON.stringify(decodeJsonPaths(value, paths));
}

/** The reverse, for arguments replayed from the history; copies instead of changing `input`. */
export function encodeJsonPaths(input: unknown, paths: readonly JsonPath[]): unknown {
  if (paths.length === 0) return input;
  let copy = structuredClone(input);
  for (const path of paths) copy = apply(copy, path, 0, encodeValue);
  return copy;
}

function decodeValue(value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function encodeValue(value: unknown): unknown {
  return value === undefined || value === null || typeof value === "string"
    ? value
    : JSON.stringify(value);
}

function apply(value: unknown, path: JsonPath, i: number, f: (v: unknown) => unknown): unknown {
  if (i === path.length) return f(value);
  const seg = path[i];
  if (seg === null) {
    if (!Array.isArray(value)) return value;
    for (let k = 0; k < value.length; k++) value[k] = apply(value[k], path, i + 1, f);
    return value;
  }
  if (!isObject(value) || !(seg in value)) return value;
  value[seg] = apply(value[seg], path, i + 1, f);
  return value;
}

/**
 * `$ref` inlined (siblings win, as in 2020-12) and `allOf` merged, so only plain nodes remain.
 * `expanded` collects the refs used: they stay "open" while the node's subtree is cleaned.
 */
function resolve(node: Obj, walk: Walk, expanded: string[]): Obj {
  let out: Obj = { ...node };
  if (typeof out.$ref === "string") {
    const ref = out.$ref;
    delete out.$ref;
    const target = lookup(walk.root, ref);
    if (
      target && !walk.refs.includes(ref) && !expanded.includes(ref) && ++walk.nodes <= MAX_NODES
    ) {
      expanded.push(ref);
      out = { ...resolve(target, walk, expanded), ...out };
    } else {
      // A cycle or a dangling ref: declare a JSON value rather than recurse forever.
      out.__any = true;
    }
  }
  if (Array.isArray(out.allOf)) {
    const parts = out.allOf.filter(isObject).map((p) => resolve(p, walk, expanded));
    delete out.allOf;
    for (const part of parts) out = mergeAll(out, part);
  }
  return out;
}

function mergeAll(into: Obj, part: Obj): Obj {
  const out: Obj = { ...part, ...into };
  if (isObject(into.properties) || isObject(part.properties)) {
    out.properties = { ...(part.properties as Obj), ...(into.properties as Obj) };
  }
  if (Array.isArray(into.required) || Array.isArray(part.required)) {
    out.required = [
      ...new Set([...(asArray(into.required)), ...(asArray(part.required))]),
    ];
  }
  return out;
}

function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function lookup(root: Obj, ref: string): Obj | undefined {
  if (ref === "#") return root;
  if (!ref.startsWith("#/")) return undefined;
  let cur: unknown = root;
  for (const raw of ref.slice(2).split("/")) {
    const key = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
    if (!isObject(cur)) return undefined;
    cur = cur[key];
  }
  return isObject(cur) ? cur : undefined;
}

function isNullSchema(s: Obj): boolean {
  return s.type === "null" || s.const === null ||
    (Array.isArray(s.enum) && s.enum.length === 1 && s.enum[0] === null);
}

/** The Gemini schema for `input`; `path` is null inside anyOf branches, where decoding is unsafe. */
function clean(input: unknown, walk: Walk, path: JsonPath | null, depth: number): GeminiSchema {
  if (!isObject(input) || depth > MAX_DEPTH || ++walk.nodes > MAX_NODES) {
    return anyValue({}, walk, path);
  }
  const base = walk.refs.length;
  const expanded: string[] = [];
  const node = resolve(input, walk, expanded);
  walk.refs.push(...expanded);
  try {
    return node.__any ? anyValue(node, walk, path) : cleanNode(node, walk, path, depth);
  } finally {
    walk.refs.length = base;
  }
}

function cleanNode(
  node: Obj,
  walk: Walk,
  path: JsonPath | null,
  depth: number,
): GeminiSchema {
  let nullable = node.nullable === true;
  const branches = [
    ...(Array.isArray(node.anyOf) ? node.anyOf : []),
    ...(Array.isArray(node.oneOf) ? node.oneOf : []),
  ].filter(isObject).map((b) => {
    // Refs a branch expands stay open for the rest of this node, like the node's own.
    const expanded: string[] = [];
    const resolved = resolve(b, walk, expanded);
    walk.refs.push(...expanded);
    return resolved;
  });
  delete node.anyOf;
  delete node.oneOf;

  let typeList = false;
  if (Array.isArray(node.type)) {
    const types = node.type.filter((t): t is string => typeof t === "string");
    if (types.includes("null")) nullable = true;
    const rest = types.filter((t) => t !== "null");
    if (rest.length === 1) node.type = rest[0];
    else {
      delete node.type;
      // Each listed type becomes a branch carrying the keywords that apply to it.
      if (rest.length > 1 && branches.length === 0) {
        for (const t of rest) branches.push({ ...node, type: t, description: undefined });
        typeList = true;
      }
    }
  } else if (node.type === "null") {
    nullable = true;
    delete node.type;
  }

  if (branches.length > 0) {
    let nonNull = branches.filter((b) => !isNullSchema(b));
    if (nonNull.length < branches.length) nullable = true;
    if (nonNull.length === 1) {
      return withNullable(
        clean(mergeAll(withoutUndefined(node), nonNull[0]), walk, path, depth + 1),
        nullable,
      );
    }
    const values = mergeEnums(nonNull);
    if (values) {
      const merged: Obj = { ...withoutUndefined(node), enum: values };
      if (values.every((v) => typeof v === "string")) merged.type = "string";
      return withNullable(clean(merged, walk, path, depth + 1), nullable);
    }
    const kind = typeList ? undefined : kindOf(node);
    if (kind && nonNull.length > 1) {
      const own = (b: Obj) => b.type === undefined || String(b.type).toLowerCase() === kind;
      const root = walk.objectRoot === true && path?.length === 0;
      if (nonNull.every(own) && (root || nonNull.every(narrowsOnly))) {
        return withNullable(clean(collapse(node, nonNull), walk, path, depth + 1), nullable);
      }
      // `{A, anyOf: [B1, B2]}` means `anyOf: [A and B1, A and B2]`: a typeless branch is the parent's.
      const shape = withoutUndefined(node);
      for (const k of ["title", "description", "default", "example", "examples"]) delete shape[k];
      nonNull = nonNull.map((b) => own(b) ? mergeAll(b, shape) : b);
    }
    if (nonNull.length > 1) {
      const out: GeminiSchema = {};
      common(node, out, undefined);
      out.anyOf = cleanBranches(nonNull, walk, path, depth + 1);
      return withNullable(out, nullable);
    }
  }

  const kind = kindOf(node);
  if (!kind) return withNullable(anyValue(node, walk, path), nullable);
  return withNullable(typed(node, kind, walk, path, depth), nullable);
}

/** A branch that only narrows its parent (which fields are required, lengths, bounds). */
function narrowsOnly(b: Obj): boolean {
  return b.properties === undefined && b.items === undefined && b.prefixItems === undefined &&
    b.enum === undefined && !("const" in b) && b.anyOf === undefined && b.oneOf === undefined &&
    !b.__any;
}

/**
 * The parent without the branches that narrow it: what every branch requires stays required, and
 * properties only branches name join as optional ones.
 */
function collapse(node: Obj, branches: Obj[]): Obj {
  const out = withoutUndefined(node);
  const own = isObject(node.properties) ? node.properties : {};
  const extra = new Map<string, unknown[]>();
  for (const b of branches) {
    if (!isObject(b.properties)) continue;
    for (const [name, sub] of Object.entries(b.properties)) {
      if (name in own) continue;
      const seen = extra.get(name) ?? [];
      if (!seen.some((s) => JSON.stringify(s) === JSON.stringify(sub))) seen.push(sub);
      extra.set(name, seen);
    }
  }
  if (extra.size) {
    const props: Obj = { ...own };
    for (const [name, subs] of extra) props[name] = subs.length === 1 ? subs[0] : { anyOf: subs };
    out.properties = props;
  }
  const everywhere = branches.map((b) => asArray(b.required))
    .reduce((all, r) => all.filter((name) => r.includes(name)));
  if (everywhere.length) {
    out.required = [...new Set([...asArray(node.required), ...everywhere])];
  }
  return out;
}

/**
 * Each branch cleaned. A branch's JSON-text paths are decoded only where no other branch lets
 * Gemini write plain text: there a string might be meant as a string.
 */
function cleanBranches(
  branches: Obj[],
  walk: Walk,
  path: JsonPath | null,
  depth: number,
): GeminiSchema[] {
  const found: JsonPath[][] = [];
  const out = branches.map((b) => {
    const paths: JsonPath[] = [];
    found.push(paths);
    return clean(b, { ...walk, paths }, path, depth);
  });
  if (!path) return out;
  found.forEach((paths, i) => {
    for (const p of paths) {
      const rel = p.slice(path.length);
      const safe = out.every((s, j) => j === i || !plainTextAt(s, path, rel, found[j]));
      if (safe) walk.paths.push(p);
    }
  });
  return out;
}

/** Whether `s` (at `at`) lets Gemini write a string meant as text at `rel` below it. */
function plainTextAt(s: GeminiSchema, at: JsonPath, rel: JsonPath, encoded: JsonPath[]): boolean {
  if (Array.isArray(s.anyOf)) {
    return s.anyOf.some((b) => isObject(b) && plainTextAt(b, at, rel, encoded));
  }
  if (rel.length === 0) {
    return s.type === "STRING" &&
      !encoded.some((p) => p.length === at.length && p.every((seg, k) => seg === at[k]));
  }
  const [seg, ...rest] = rel;
  const next = seg === null
    ? s.type === "ARRAY" ? s.items : undefined
    : s.type === "OBJECT" && isObject(s.properties)
    ? s.properties[seg]
    : undefined;
  return isObject(next) && plainTextAt(next, [...at, seg], rest, encoded);
}

function withoutUndefined(o: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}

function withNullable(s: GeminiSchema, nullable: boolean): GeminiSchema {
  if (nullable) s.nullable = true;
  return s;
}

/** anyOf branches that are all enums or consts collapse into one enum. */
function mergeEnums(branches: Obj[]): unknown[] | undefined {
  if (branches.length < 2) return undefined;
  const values: unknown[] = [];
  for (const b of branches) {
    if ("const" in b) values.push(b.const);
    else if (Array.isArray(b.enum)) { for (const v of b.enum) values.push(v); }
    else return undefined;
  }
  const seen = new Set<string>();
  const out: unknown[] = [];
  for (const v of values) {
    const key = JSON.stringify(v);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(v);
  }
  return out;
}

function kindOf(node: Obj): Kind | undefined {
  if (typeof node.type === "string") {
    const t = node.type.toLowerCase();
    return KINDS.has(t) ? t as Kind : undefined;
  }
  if (isObject(node.properties)) return "object";
  if (node.items !== undefined || node.prefixItems !== undefined) return "array";
  const values = Array.isArray(node.enum) ? node.enum : "const" in node ? [node.const] : undefined;
  if (values) return "string";
  if (typeof node.pattern === "string" || node.minLength !== undefined) return "string";
  if (typeof node.minimum === "number" || typeof node.maximum === "number") return "number";
  return undefined;
}

/** A value of any shape: Gemini must be given a type, so it writes JSON text we decode back. */
function anyValue(node: Obj, walk: Walk, path: JsonPath | null): GeminiSchema {
  const out: GeminiSchema = { type: "STRING" };
  const description = typeof node.description === "string" ? node.description : "";
  out.description = description ? `${description}\n${JSON_NOTE}` : JSON_NOTE;
  if (typeof node.title === "string") out.title = node.title;
  if (path) walk.paths.push(path);
  return out;
}

function common(node: Obj, out: GeminiSchema, kind: Kind | undefined): void {
  if (typeof node.title === "string") out.title = node.title;
  if (typeof node.description === "string") out.description = node.description;
  if (kind && fits(node.default, kind)) out.default = node.default;
  const example = node.example !== undefined
    ? node.example
    : Array.isArray(node.examples)
    ? node.examples[0]
    : undefined;
  if (kind && fits(example, kind)) out.example = example;
}

/** Only a default or example of the declared type is kept: Gemini checks them against it. */
function fits(value: unknown, kind: Kind): boolean {
  if (value === undefined || value === null) return false;
  switch (kind) {
    case "string":
      return typeof value === "string";
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "integer":
      return Number.isInteger(value);
    case "boolean":
      return typeof value === "boolean";
    case "array":
      return Array.isArray(value);
    case "object":
      return isObject(value);
  }
}

function typed(
  node: Obj,
  kind: Kind,
  walk: Walk,
  path: JsonPath | null,
  depth: number,
): GeminiSchema {
  const values = Array.isArray(node.enum) ? node.enum : "const" in node ? [node.const] : undefined;
  if (values) return enumSchema(node, kind, values, walk, path);

  const out: GeminiSchema = { type: kind.toUpperCase() };
  common(node, out, kind);
  switch (kind) {
    case "string": {
      if (node.format === "date-time" || node.format === "enum") out.format = node.format;
      copyCount(node, out, "minLength");
      copyCount(node, out, "maxLength");
      if (typeof node.pattern === "string" && safePattern(node.pattern)) out.pattern = node.pattern;
      break;
    }
    case "number":
    case "integer": {
      const formats = kind === "integer" ? ["int32", "int64"] : ["float", "double"];
      if (typeof node.format === "string" && formats.includes(node.format)) {
        out.format = node.format;
      }
      bounds(node, out, kind);
      break;
    }
    case "array": {
      const items = isObject(node.items)
        ? node.items
        : Array.isArray(node.prefixItems) && isObject(node.prefixItems[0])
        ? node.prefixItems[0]
        : Array.isArray(node.items) && isObject(node.items[0])
        ? node.items[0]
        : {};
      // ARRAY without `items` is a 400 ("items: missing field").
      out.items = clean(items, walk, path ? [...path, null] : null, depth + 1);
      copyCount(node, out, "minItems");
      copyCount(node, out, "maxItems");
      break;
    }
    case "object": {
      const props = isObject(node.properties) ? node.properties : {};
      const cleaned: GeminiSchema = {};
      for (const [name, sub] of Object.entries(props)) {
        cleaned[name] = clean(sub, walk, path ? [...path, name] : null, depth + 1);
      }
      const names = Object.keys(cleaned);
      // OBJECT with no properties is a 400 ("should be non-empty for OBJECT type").
      if (names.length === 0) return anyValue(node, walk, path);
      out.properties = cleaned;
      const required = asArray(node.required).filter((r): r is string =>
        typeof r === "string" && r in cleaned
      );
      if (required.length) out.required = [...new Set(required)];
      copyCount(node, out, "minProperties");
      copyCount(node, out, "maxProperties");
      const order = asArray(node.propertyOrdering).filter((r): r is string =>
        typeof r === "string" && r in cleaned
      );
      if (order.length) out.propertyOrdering = order;
      break;
    }
  }
  return out;
}

/** Gemini takes enums only as strings on a STRING; other values are stringified and decoded back. */
function enumSchema(
  node: Obj,
  kind: Kind,
  values: unknown[],
  walk: Walk,
  path: JsonPath | null,
): GeminiSchema {
  let nullable = false;
  const strings: string[] = [];
  let converted = kind !== "string";
  for (const v of values) {
    if (v === null) {
      nullable = true;
      continue;
    }
    if (typeof v !== "string") converted = true;
    const s = typeof v === "string" ? v : JSON.stringify(v);
    if (!strings.includes(s)) strings.push(s);
  }
  if (strings.length === 0) return withNullable(anyValue(node, walk, path), nullable);
  const out: GeminiSchema = { type: "STRING" };
  common(node, out, "string");
  out.format = "enum";
  out.enum = strings;
  if (out.default !== undefined && !strings.includes(out.default as string)) delete out.default;
  if (out.example !== undefined && !strings.includes(out.example as string)) delete out.example;
  if (converted && path) walk.paths.push(path);
  return withNullable(out, nullable);
}

/** int64 fields: non-negative integers a proto parser accepts. */
function copyCount(node: Obj, out: GeminiSchema, key: string): void {
  const v = node[key];
  if (typeof v === "number" && Number.isFinite(v) && v >= 0) {
    out[key] = Math.min(Math.floor(v), Number.MAX_SAFE_INTEGER);
  }
}

function bounds(node: Obj, out: GeminiSchema, kind: "number" | "integer"): void {
  let min = finite(node.minimum);
  let max = finite(node.maximum);
  // Exclusive bounds are not in the subset: tighten to the next integer, or keep as inclusive.
  const xmin = finite(node.exclusiveMinimum);
  if (xmin !== undefined) {
    const m = kind === "integer" ? Math.floor(xmin) + 1 : xmin;
    min = min === undefined ? m : Math.max(min, m);
  }
  const xmax = finite(node.exclusiveMaximum);
  if (xmax !== undefined) {
    const m = kind === "integer" ? Math.ceil(xmax) - 1 : xmax;
    max = max === undefined ? m : Math.min(max, m);
  }
  if (min !== undefined) out.minimum = min;
  if (max !== undefined) out.maximum = max;
}

function finite(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/** Gemini compiles patterns with RE2: lookarounds and backreferences would be rejected. */
function safePattern(p: string): boolean {
  if (/\(\?<?[=!]|\\[1-9]|\\k</.test(p)) return false;
  try {
    new RegExp(p, "u");
    return true;
  } catch {
    return false;
  }
}
