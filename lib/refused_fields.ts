// Anthropic-compatible upstreams that lag behind the API (Vertex, gateways that validate bodies
// against Anthropic's schema of some months ago) refuse the newer fields Claude Code sends with a
// 400 naming them. The fields an upstream refused are learned per upstream and model and left out
// of its requests from then on, as the refused anthropic-beta flags are.

/**
 * Not a field but a value: the upstream takes `thinking` only as `enabled` or `disabled` (Claude
 * Code sends `adaptive`), and gets a budget instead. `dropFields` passes such values over.
 */
export const ADAPTIVE_THINKING = "thinking.type=adaptive";

/**
 * Not a field but a value: the upstream takes no `role: "system"` message in `messages` (Claude
 * Code's mid-conversation system messages, a beta): they are folded into the user turns.
 */
export const SYSTEM_MESSAGES = "messages.*.role=system";

/** Patterns kept per upstream and model. */
const MAX_FIELDS = 64;

/** Refused field patterns (`tools.*.custom.defer_loading`) by upstream and model, per instance. */
export class RefusedFields {
  #byUpstream = new Map<string, string[]>();

  learn(upstream: string, patterns: string[]): void {
    const known = this.#byUpstream.get(upstream) ?? [];
    if (!this.#byUpstream.has(upstream) && this.#byUpstream.size > 1_000) this.#byUpstream.clear();
    const fresh = patterns.filter((p) => !known.includes(p));
    // A new list each time: a request keeps the one it was sent with. An upstream that refuses
    // field after field without end is not worth a longer one.
    this.#byUpstream.set(upstream, [...known, ...fresh].slice(0, MAX_FIELDS));
  }

  /** The patterns to leave out of this upstream's requests, if any. */
  for(upstream: string): readonly string[] | undefined {
    return this.#byUpstream.get(upstream);
  }
}

/**
 * Deletes what each pattern names from a parsed body. `*` is every item of a list; a segment that
 * is the object's `type`, or no member of it, names the variant of a union (`custom` in
 * `tools.*.custom.defer_loading`, `text` in `messages.*.content.*.text.cache_control.ttl`, as the
 * upstream's validator words it) and is passed over.
 */
export function dropFields(doc: unknown, patterns: readonly string[]): void {
  for (const pattern of patterns) {
    if (!pattern.includes("=")) drop(doc, pattern.split("."), 0);
  }
}

function drop(node: unknown, path: string[], at: number): void {
  if (at >= path.length || node === null || typeof node !== "object") return;
  const segment = path[at];
  if (Array.isArray(node)) {
    if (segment === "*") { for (const item of node) drop(item, path, at + 1); }
    return;
  }
  const obj = node as Record<string, unknown>;
  if (at === path.length - 1) delete obj[segment];
  else if (obj.type !== segment && Object.hasOwn(obj, segment)) drop(obj[segment], path, at + 1);
  else drop(obj, path, at + 1);
}

/**
 * Whether a request's text holds what a value pattern refuses (adaptive thinking, a `role:
 * "system"` message: its top-level `system` is no role); a field pattern, as far as this tells.
 */
export function holdsRefused(pattern: string, raw: string): boolean {
  if (pattern === ADAPTIVE_THINKING) return raw.includes('"adaptive"');
  if (pattern === SYSTEM_MESSAGES) return /"role"\s*:\s*"system"/.test(raw);
  return true;
}
