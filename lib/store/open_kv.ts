// Opens Deno KV where the settings say: Deploy's own, a KV Connect URL, memory, or a local file.
import type { Config } from "../config.ts";

export async function openKv(config: Pick<Config, "kvPath" | "onDeploy">): Promise<Deno.Kv> {
  if (config.onDeploy) return await Deno.openKv();
  const path = config.kvPath;
  if (path !== ":memory:" && !/^https?:\/\//.test(path)) {
    const dir = path.replace(/[\\/][^\\/]*$/, "");
    if (dir && dir !== path) await Deno.mkdir(dir, { recursive: true });
  }
  return await Deno.openKv(path);
}
