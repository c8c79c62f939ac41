// Requested model → upstream model: exact name, then family, then default, else unchanged.
const FAMILIES = ["haiku", "sonnet", "opus"] as const;

export function mapModel(requested: string, models: Record<string, string> | undefined): string {
  if (!models) return requested;
  const exact = models[requested];
  if (exact) return exact;
  const lower = requested.toLowerCase();
  for (const family of FAMILIES) {
    if (lower.includes(family) && models[family]) return models[family];
  }
  return models.default ?? requested;
}
