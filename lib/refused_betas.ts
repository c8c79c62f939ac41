// Anthropic-compatible upstreams (Bedrock- and Vertex-backed ones, other vendors) refuse some of
// the `anthropic-beta` flags Claude Code sends, with a 400. The flags an upstream refused are
// learned per upstream and the request is sent again without them, as it will be from then on.

/** Every flag: the upstream refused betas without naming which. */
const ALL = "*";

/** The flags a 400's message says were refused, among those sent; undefined when it is not that. */
export function refusedBetasFromError(whole: string, sent: string[]): string[] | undefined {
  if (sent.length === 0) return undefined;
  // Refusals are a sentence; past that the lazy match below would take seconds to fail.
  const message = whole.slice(0, 4096);
  // Anthropic and Vertex: "Unexpected value(s) `a`, `b` for the `anthropic-beta` header."
  const unexpected = /Unexpected value\(s\) (.+?) for the `anthropic-beta` header/i.exec(message);
  if (unexpected) {
    const named = [...unexpected[1].matchAll(/`([^`]+)`/g)].map((m) => m[1]);
    const refused = sent.filter((flag) => named.includes(flag));
    return refused.length ? refused : undefined;
  }
  if (!/beta/i.test(message)) return undefined;
  const named = sent.filter((flag) => message.includes(flag));
  if (named.length) return named;
  // Bedrock: "invalid beta flag", naming none.
  return /invalid beta|unsupported beta|beta flag/i.test(message) ? [ALL] : undefined;
}

/** The flags of an `anthropic-beta` value. */
export function betaFlags(value: string | null): string[] {
  return value ? value.split(",").map((f) => f.trim()).filter(Boolean) : [];
}

/** Refused flags by upstream, per instance. */
export class RefusedBetas {
  #byUpstream = new Map<string, Set<string>>();

  learn(upstream: string, flags: string[]): void {
    let set = this.#byUpstream.get(upstream);
    if (!set) {
      if (this.#byUpstream.size > 1_000) this.#byUpstream.clear();
      this.#byUpstream.set(upstream, set = new Set());
    }
    for (const f of flags) set.add(f);
  }

  /** The client's headers as this upstream takes them: the same object when nothing is refused. */
  filter(upstream: string, headers: Headers): Headers {
    const refused = this.#byUpstream.size ? this.#byUpstream.get(upstream) : undefined;
    const value = refused && headers.get("anthropic-beta");
    if (!refused || !value) return headers;
    const kept = refused.has(ALL) ? [] : betaFlags(value).filter((f) => !refused.has(f));
    const out = new Headers(headers);
    if (kept.length) out.set("anthropic-beta", kept.join(","));
    else out.delete("anthropic-beta");
    return out;
  }
}
