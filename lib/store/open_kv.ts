// Opens Deno KV where the settings say: Deploy's own, a KV Connect URL, memory, or a local file.
import { messageOf } from "../errors.ts";
import type { Config } from "../config.ts";
import { retryingKv, retryWhenBusy } from "./busy_retry.ts";

export async function openKv(config: Pick<Config, "kvPath" | "onDeploy">): Promise<Deno.Kv> {
  if (config.onDeploy) return await Deno.openKv();
  const path = config.kvPath;
  if (path === ":memory:" || /^https?:\/\//.test(path)) return await Deno.openKv(path);
  const dir = path.replace(/[\\/][^\\/]*$/, "");
  if (dir && dir !== path) await Deno.mkdir(dir, { recursive: true });
  // A file may be shared with other processes (servers, CLI commands), which lock it by turns.
  return retryingKv(await retryWhenBusy(() => Deno.openKv(path)));
}

/** Why the store cannot open, naming what to change: on Deno Deploy KV_PATH plays no part. */
export function storeOpenProblem(
  config: Pick<Config, "kvPath" | "onDeploy">,
  err: unknown,
): string {
  const reason = messageOf(err);
  if (config.onDeploy) {
    return `Deno KV: cannot open the Deno Deploy store (Deno.openKv()): ${reason}; attach a KV database to this project in its Deno Deploy settings`;
  }
  return `KV_PATH: cannot open the store at "${config.kvPath}": ${reason}`;
}
