// JSON.parse for Messages request bodies, with one saving: Claude Code sends the same 60-odd KB of
// tools with every request, and parsing them (a third of the request's parse, whose strings V8
// keeps as UTF-16) and translating them again each time was the largest cost of a turn. The tools
// text seen before is recognised in the body, parsed once, and handed out as one frozen array, so
// translators can remember what they made of it by its identity (`sharedTools`).

/** Tools texts smaller than this are cheaper to parse than to look up. */
const MIN_TOOLS_TEXT = 2048;
/** Distinct tool sets remembered (a few clients, each with its own tools and MCP servers). */
const MAX_ENTRIES = 8;
/** `"tools"` members looked at in one body (nested ones come first, in tool_use inputs). */
const MAX_PLACES = 4;

interface Entry {
  text: string;
  tools: readonly unknown[];
}

const entries: Entry[] = [];
const shared = new WeakSet<object>();

/**
 * A lone surrogate cannot reach `raw` unescaped (it was decoded from UTF-8), so a string value of
 * one can only come from this stand-in once the body holds no `\ud800` escape of its own.
 */
const STAND_IN_TEXT = '"\\ud800"';
const STAND_IN = "\ud800";

/** The body's JSON value, as JSON.parse gives it (and throwing as JSON.parse does). */
export function parseBody(raw: string): unknown {
  if (raw.length <= MIN_TOOLS_TEXT || entries.length === 0) return rememberingParse(raw);
  // Searched one at a time: looking past the tools for more costs as much as the rest together.
  for (let at = toolsValueAt(raw, 0), n = 0; at !== -1 && n < MAX_PLACES; n++) {
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i];
      // Equality of a slice compares memory; startsWith went char by char, 20 times slower.
      if (raw.slice(at, at + entry.text.length) !== entry.text) continue;
      const parsed = reusing(raw, at, entry);
      if (parsed === undefined) continue;
      if (i > 0) entries.unshift(...entries.splice(i, 1));
      return parsed;
    }
    at = toolsValueAt(raw, at);
  }
  return rememberingParse(raw);
}

function rememberingParse(raw: string): unknown {
  const parsed = JSON.parse(raw);
  if (raw.length > MIN_TOOLS_TEXT) remember(raw, parsed);
  return parsed;
}

/** Whether `tools` is an array parseBody hands out again and again (frozen, deeply). */
export function sharedTools(tools: unknown): tools is readonly unknown[] {
  return typeof tools === "object" && tools !== null && shared.has(tools);
}

/** `convert` for shared tools arrays, worked out once per array (and forgotten with it). */
export function oncePerSharedTools<T>(
  convert: (tools: readonly unknown[]) => T,
): (tools: readonly unknown[]) => T {
  const done = new WeakMap<object, T>();
  return (tools) => {
    let value = done.get(tools);
    if (value === undefined) done.set(tools, value = convert(tools));
    return value;
  };
}

/**
 * The body parsed with the stand-in where the known tools text is. If the parsed body's `tools`
 * is the stand-in, that text was the top-level tools value (nothing else can parse to it), and
 * the body is the one the whole text would give with the remembered array in place.
 */
function reusing(raw: string, at: number, entry: Entry): unknown {
  const head = raw.slice(0, at);
  const tail = raw.slice(at + entry.text.length);
  if (ownStandIn(head) || ownStandIn(tail)) return undefined;
  let parsed;
  try {
    parsed = JSON.parse([head, STAND_IN_TEXT, tail].join(""));
  } catch {
    return undefined;
  }
  if (parsed?.tools !== STAND_IN) return undefined;
  parsed.tools = entry.tools;
  return parsed;
}

function ownStandIn(text: string): boolean {
  return text.includes("\\ud800") || text.includes("\\uD800") || text.includes(STAND_IN);
}

/** Remembers the body's tools text, with its own parse of it, if it is worth it. */
function remember(raw: string, parsed: unknown): void {
  const tools = (parsed as { tools?: unknown })?.tools;
  if (!Array.isArray(tools) || tools.length === 0) return;
  for (let at = toolsValueAt(raw, 0), n = 0; at !== -1 && n < MAX_PLACES; n++) {
    const start = at;
    at = toolsValueAt(raw, at);
    const end = valueEnd(raw, start);
    if (end - start < MIN_TOOLS_TEXT) continue;
    let own: unknown;
    let text: string;
    try {
      // Round-tripped so the entry holds a string of its own, not a slice keeping `raw` alive.
      text = JSON.parse(JSON.stringify(raw.slice(start, end)));
      own = JSON.parse(text);
      // Only a likely match: a later body reuses it only when it proves to be the top-level tools.
      if (!Array.isArray(own) || own.length !== tools.length) continue;
      // Too deep to freeze (the stack runs out): not worth remembering.
      deepFreeze(own);
    } catch {
      continue;
    }
    entries.unshift({ text, tools: own });
    shared.add(own);
    if (entries.length > MAX_ENTRIES) entries.pop();
    return;
  }
}

/** Where the next `"tools"` member after `from` has an array for its value; -1 if none. */
function toolsValueAt(raw: string, from: number): number {
  for (let i = raw.indexOf('"tools"', from); i !== -1; i = raw.indexOf('"tools"', i + 7)) {
    let j = skipSpace(raw, i + 7);
    if (raw.charCodeAt(j) !== 58 /* : */) continue;
    j = skipSpace(raw, j + 1);
    if (raw.charCodeAt(j) === 91 /* [ */) return j;
  }
  return -1;
}

function skipSpace(raw: string, i: number): number {
  for (;;) {
    const c = raw.charCodeAt(i);
    if (c !== 32 && c !== 10 && c !== 13 && c !== 9) return i;
    i++;
  }
}

/** The end of the array or object starting at `start` (unchecked: the caller parses it). */
function valueEnd(raw: string, start: number): number {
  let depth = 0;
  for (let i = start; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 34 /* " */) {
      for (i++; i < raw.length; i++) {
        const d = raw.charCodeAt(i);
        if (d === 92 /* \ */) i++;
        else if (d === 34) break;
      }
    } else if (c === 91 || c === 123) depth++;
    else if (c === 93 || c === 125) {
      if (--depth === 0) return i + 1;
    }
  }
  return start;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
