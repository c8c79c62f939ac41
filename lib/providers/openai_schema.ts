// What OpenAI's function-calling and structured-output validators ask of a JSON Schema that
// Anthropic's take as it is: every array names its items, and strict mode only a subset.

// deno-lint-ignore no-explicit-any
type Json = any;

const isArrayType = (type: unknown) =>
  type === "array" || (Array.isArray(type) && type.includes("array"));

const MAX_DEPTH = 200;

/** Members whose value is a schema, or a list or map of schemas. */
const SCHEMA = ["items", "additionalProperties", "not", "if", "then", "else", "contains"];
const SCHEMA_LISTS = ["anyOf", "oneOf", "allOf", "prefixItems"];
const SCHEMA_MAPS = ["properties", "$defs", "definitions", "patternProperties"];

/**
 * A tool's parameters as OpenAI takes them: an array schema without `items` (common in MCP tools)
 * is refused ("array schema missing items"), so it gets `items: {}`, which allows what it did.
 * The schema is returned as it is when nothing needs it, else a copy.
 */
export function withArrayItems(schema: Json, depth = 0): Json {
  if (!schema || typeof schema !== "object" || Array.isArray(schema)) return schema;
  // Far deeper than any validator takes: left for the upstream to refuse, not walked on.
  if (depth > MAX_DEPTH) return schema;
  let out: Json = schema;
  const set = (k: string, v: unknown) => {
    if (out === schema) out = { ...schema };
    out[k] = v;
  };
  if (isArrayType(schema.type) && !("items" in schema) && !("prefixItems" in schema)) {
    set("items", {});
  }
  for (const k of SCHEMA) {
    const v = schema[k];
    if (v && typeof v === "object") {
      const fixed = withArrayItems(v, depth + 1);
      if (fixed !== v) set(k, fixed);
    }
  }
  for (const k of SCHEMA_LISTS) {
    const v = schema[k];
    if (!Array.isArray(v)) continue;
    const fixed = v.map((sub) => withArrayItems(sub, depth + 1));
    if (fixed.some((f, i) => f !== v[i])) set(k, fixed);
  }
  for (const k of SCHEMA_MAPS) {
    const v = schema[k];
    if (!v || typeof v !== "object" || Array.isArray(v)) continue;
    let map: Json = v;
    for (const [name, sub] of Object.entries(v)) {
      const fixed = withArrayItems(sub, depth + 1);
      if (fixed === sub) continue;
      if (map === v) map = { ...v };
      map[name] = fixed;
    }
    if (map !== v) set(k, map);
  }
  return out;
}

/** Keywords OpenAI's strict mode refuses anywhere in a schema. */
const NOT_STRICT = [
  "oneOf",
  "allOf",
  "not",
  "if",
  "then",
  "else",
  "patternProperties",
  "dependentRequired",
  "dependentSchemas",
  "unevaluatedProperties",
];

/**
 * Whether OpenAI's strict mode takes the schema: every object closed with every property
 * required, every array with its items, and none of the keywords it refuses. Otherwise the
 * schema goes without `strict`, which OpenAI would refuse with a 400.
 */
export function strictCompatible(schema: Json): boolean {
  if (!schema || typeof schema !== "object") return true;
  if (Array.isArray(schema)) return schema.every(strictCompatible);
  if (NOT_STRICT.some((k) => k in schema)) return false;
  if (isArrayType(schema.type) && !("items" in schema)) return false;
  if (schema.type === "object" || schema.properties) {
    if (schema.additionalProperties !== false) return false;
    const keys = Object.keys(schema.properties ?? {});
    const required: unknown[] = Array.isArray(schema.required) ? schema.required : [];
    if (!keys.every((k) => required.includes(k))) return false;
  }
  for (const [k, v] of Object.entries(schema)) {
    if (k === "properties" || k === "$defs" || k === "definitions") {
      // A map that is no object (null, a list) is the client's mistake, for the upstream to name.
      if (!v || typeof v !== "object" || Array.isArray(v)) return false;
      if (!Object.values(v).every(strictCompatible)) return false;
    } else if (k === "items" || k === "anyOf") {
      if (!strictCompatible(v)) return false;
    }
  }
  return true;
}
