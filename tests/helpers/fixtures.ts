// The Claude Code requests captured in the shared folder beside the repository.

const DIR = new URL("../../../shared/fixtures/claude-code/", import.meta.url);

function exists(url: URL): boolean {
  try {
    return Deno.statSync(url).isDirectory;
  } catch {
    return false;
  }
}

/** False when the shared fixtures are not beside the repository; tests using them are skipped. */
export const HAVE_CLAUDE_CODE_FIXTURES = exists(DIR);
if (!HAVE_CLAUDE_CODE_FIXTURES) {
  console.warn(
    `note: no Claude Code captures at ${DIR.pathname}: the tests replaying them are ignored`,
  );
}

/** Every captured request body, by file name (the count_tokens one included). */
export function claudeCodeFixtures(): Array<{ name: string; body: Record<string, unknown> }> {
  if (!HAVE_CLAUDE_CODE_FIXTURES) return [];
  const out = [];
  for (const entry of Deno.readDirSync(DIR)) {
    if (!entry.name.endsWith("-request.json") && !entry.name.startsWith("count-tokens")) continue;
    const json = JSON.parse(Deno.readTextFileSync(new URL(entry.name, DIR)));
    out.push({ name: entry.name, body: json.body ?? json });
  }
  // A folder that is there but holds no requests would let every loop over them assert nothing.
  if (out.length === 0) throw new Error(`no Claude Code requests in ${DIR.pathname}`);
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

export function claudeCodeFixture(name: string): Record<string, unknown> {
  const json = JSON.parse(Deno.readTextFileSync(new URL(name, DIR)));
  return json.body ?? json;
}
