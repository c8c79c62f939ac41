// Runs the real Claude Code CLI (`claude -p`) against a proxy on loopback, offline.
import { ACCESS_KEY } from "./server.ts";

const fallbackBin = new URL("../../.ci/tools/node_modules/.bin/claude", import.meta.url).pathname;

/** The Claude Code binary, or undefined when it is not installed (the test is then skipped). */
export const CLAUDE_BIN: string | undefined = (() => {
  for (const candidate of [Deno.env.get("CLAUDE_BIN"), fallbackBin]) {
    if (!candidate) continue;
    try {
      if (Deno.statSync(candidate).isFile) return candidate;
    } catch { /* not there */ }
  }
  return undefined;
})();

export interface ClaudeRun {
  code: number;
  // deno-lint-ignore no-explicit-any
  result: any;
  stdout: string;
  stderr: string;
}

/** A HOME and working directory kept across runs, for `--continue` and files the model reads. */
export interface ClaudeSession {
  cwd: string;
  run(prompt: string, args?: string[], env?: Record<string, string>): Promise<ClaudeRun>;
  close(): Promise<void>;
}

export async function claudeSession(baseUrl: string): Promise<ClaudeSession> {
  if (!CLAUDE_BIN) throw new Error("Claude Code is not installed");
  const bin = CLAUDE_BIN;
  const home = await Deno.makeTempDir({ prefix: "claude-home-" });
  const cwd = await Deno.makeTempDir({ prefix: "claude-cwd-" });
  return {
    cwd,
    async run(prompt, args = [], env = {}) {
      const out = await new Deno.Command(bin, {
        args: ["-p", prompt, "--output-format", "json", ...args],
        cwd,
        clearEnv: true,
        env: {
          PATH: "/usr/local/bin:/usr/bin:/bin",
          HOME: home,
          TERM: "dumb",
          ANTHROPIC_BASE_URL: baseUrl,
          ANTHROPIC_API_KEY: ACCESS_KEY,
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
          DISABLE_TELEMETRY: "1",
          DISABLE_ERROR_REPORTING: "1",
          DISABLE_AUTOUPDATER: "1",
          CLAUDE_CODE_MAX_RETRIES: "1",
          ...env,
        },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(90_000),
      }).output();
      const stdout = new TextDecoder().decode(out.stdout);
      let result: unknown = undefined;
      try {
        result = JSON.parse(stdout.trim().split("\n").pop() ?? "");
      } catch { /* left undefined: the assertion shows stdout */ }
      return { code: out.code, result, stdout, stderr: new TextDecoder().decode(out.stderr) };
    },
    async close() {
      await Deno.remove(home, { recursive: true }).catch(() => {});
      await Deno.remove(cwd, { recursive: true }).catch(() => {});
    },
  };
}

export async function runClaude(
  baseUrl: string,
  prompt: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<ClaudeRun> {
  const session = await claudeSession(baseUrl);
  try {
    return await session.run(prompt, args, env);
  } finally {
    await session.close();
  }
}
