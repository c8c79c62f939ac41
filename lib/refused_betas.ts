// Anthropic-compatible upstreams (Bedrock- and Vertex-backed ones, other vendors) refuse some of
// the `anthropic-beta` flags Claude Code sends, with a 400. The flags an upstream refused are
// learned per upstream and the request is sent again without them, as it will be from then on.
// Which flags a refusal names is the provider's to read (its `refusedBetas`).

/** Every flag: the upstream refused betas without naming which. */
export const EVERY_BETA = "*";

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
    const kept = refused.has(EVERY_BETA) ? [] : betaFlags(value).filter((f) => !refused.has(f));
    const out = new Headers(headers);
    if (kept.length) out.set("anthropic-beta", kept.join(","));
    else out.delete("anthropic-beta");
    return out;
  }
}
