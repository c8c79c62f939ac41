// Anthropic-compatible upstreams (Bedrock- and Vertex-backed ones, other vendors) refuse some of
// the `anthropic-beta` flags Claude Code sends, with a 400. The flags an upstream refused are
// learned per upstream and model (which flags Bedrock takes depends on the model) and the request
// is sent again without them, as it will be from then on.
// Which flags a refusal names is the provider's to read (its `refusedBetas`).

/** Every flag: the upstream refused betas without naming which. */
export const EVERY_BETA = "*";

/**
 * Flags Bedrock and Vertex take for the models Claude Code uses. A refusal that names no flag
 * (Bedrock's "invalid beta flag") is answered first by leaving out the others: thinking between
 * tool calls, Claude Code's context clearing and effort levels stay on where the upstream has them.
 */
export const COMMON_BETAS: ReadonlySet<string> = new Set([
  "interleaved-thinking-2025-05-14",
  "context-management-2025-06-27",
  "effort-2025-11-24",
  "context-1m-2025-08-07",
  "fine-grained-tool-streaming-2025-05-14",
  "token-efficient-tools-2025-02-19",
  "output-128k-2025-02-19",
]);

/** The flags of an `anthropic-beta` value. */
export function betaFlags(value: string | null): string[] {
  return value ? value.split(",").map((f) => f.trim()).filter(Boolean) : [];
}

/** Refused flags by upstream and model (`refusalScope`), per instance. */
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
