// serviceType → provider. Adding a provider is one file and one line here.
import { anthropicProvider } from "./anthropic.ts";
import { geminiProvider } from "./gemini.ts";
import { openaiProvider } from "./openai.ts";
import type { Provider } from "./types.ts";

const PROVIDERS: readonly Provider[] = [
  openaiProvider,
  geminiProvider,
  anthropicProvider,
];

const BY_KIND = new Map(PROVIDERS.flatMap((p) => p.kinds.map((k) => [k, p] as const)));

/** The provider serving a `serviceType`, or undefined for an unknown one. */
export function providerFor(serviceType: string): Provider | undefined {
  return BY_KIND.get(serviceType);
}

/** Every accepted `serviceType`, aliases included. */
export function providerKinds(): string[] {
  return [...BY_KIND.keys()];
}

/** One entry per provider, for the admin's kind picker. */
export function providerChoices(): Array<{ kind: string; label: string; defaultBaseUrl: string }> {
  return PROVIDERS.map((p) => ({
    kind: p.kinds[0],
    label: p.label,
    defaultBaseUrl: p.defaultBaseUrl,
  }));
}

/** The kinds that are variants of a provider, with their names, for the picker after those. */
export function variantChoices(): Array<{ kind: string; label: string }> {
  return PROVIDERS.flatMap((p) =>
    Object.entries(p.variantLabels ?? {}).map(([kind, label]) => ({ kind, label }))
  );
}
