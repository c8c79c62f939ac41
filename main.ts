// Composition root: settings, store, app, server.
import { createApp, serveErrorHandler } from "./lib/app.ts";
import { messageOf } from "./lib/errors.ts";
import { type Config, ConfigError, loadConfig } from "./lib/config.ts";
import { drainLog, formatLine, type StartupLine } from "./lib/log.ts";
import { openKv, storeOpenProblem } from "./lib/store/open_kv.ts";
import { createServices } from "./lib/services.ts";
import { startKeyRecovery } from "./lib/key_recovery.ts";
import { providerChoices, variantChoices } from "./lib/providers/registry.ts";

/** Settings the server cannot start with: said once, naming them, in the log's format. */
function refuseToStart(err: ConfigError): never {
  console.error(
    err.logFormat === "json"
      ? formatLine("json", "error", "Invalid settings", { problems: err.problems })
      : err.message,
  );
  Deno.exit(1);
}

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) refuseToStart(err);
  throw err;
}

let kv: Deno.Kv;
try {
  kv = await openKv(config);
} catch (err) {
  refuseToStart(new ConfigError([storeOpenProblem(config, err)], config.logFormat));
}
// Deploy's KV notifies every instance; a local file only this process, so others are polled.
const services = await createServices(kv, config, { pollMs: config.onDeploy ? undefined : 500 });
const app = createApp(services);
const onError = serveErrorHandler(services);
startKeyRecovery(services);

let port = config.port;
let started = false;
let current: Deno.HttpServer | undefined;
let stopping = false;
/** The wait before a restart, doubled while it fails. */
const FIRST_RETRY_MS = 500;

/**
 * Serves, and serves again if the server stops: out of file descriptors (a flood of idle
 * connections), Deno's server stops accepting for good, so a new one takes its place once
 * descriptors are free again.
 */
function serve(retryMs = FIRST_RETRY_MS): void {
  let server: Deno.HttpServer;
  try {
    server = current = Deno.serve(
      { port, hostname: config.hostname, onListen, onError },
      app.fetch,
    );
  } catch (err) {
    // A port in use or a bad address at start is the operator's to fix: fail, saying which.
    if (!started) refuseToStart(new ConfigError([listenProblem(err)], config.logFormat));
    services.log.log("error", "could not start the server; trying again", { error: String(err) });
    setTimeout(() => serve(Math.min(retryMs * 2, 10_000)), retryMs);
    return;
  }
  server.finished.catch((err) => {
    if (stopping) return;
    services.log.log("error", "the server stopped accepting connections; starting it again", {
      error: String(err),
    });
    // From the start: the back-off of a failed restart is over once one listened.
    setTimeout(() => serve(), FIRST_RETRY_MS);
  });
}

/** Why the server cannot listen, naming the setting to change. */
function listenProblem(err: unknown): string {
  const where = `${config.hostname}:${port}`;
  if (err instanceof Deno.errors.AddrInUse) {
    return `PORT: ${port} is already in use on ${config.hostname} (another server?); choose another PORT`;
  }
  if (err instanceof Deno.errors.PermissionDenied) {
    return `PORT: listening on ${where} is not permitted (ports below 1024 need privileges): ${
      messageOf(err)
    }`;
  }
  return `HOSTNAME: cannot listen on "${config.hostname}" (port ${port}): ${messageOf(err)}`;
}

function onListen({ hostname, port: bound }: Deno.NetAddr): void {
  // A server started again listens where the first one did, even on a port picked by the system.
  port = bound;
  if (started) {
    services.log.log("info", "the server accepts connections again", { port: bound });
    return;
  }
  started = true;
  // Every address (IPv4 or IPv6) is reached at localhost; an IPv6 one goes in brackets in a URL.
  const shown = hostname === "0.0.0.0" || hostname === "::"
    ? "localhost"
    : hostname.includes(":")
    ? `[${hostname}]`
    : hostname;
  const url = `http://${shown}:${bound}`;
  const { doc } = services.store.snapshot;
  const current = doc.upstream[doc.currentUpstream]?.name ?? null;
  const lines: StartupLine[] = [
    { level: "info", message: `Claude API proxy listening on ${url}`, fields: { url } },
    { level: "info", message: `store: ${config.onDeploy ? "Deno Deploy KV" : config.kvPath}` },
    {
      level: "info",
      message: `upstreams: ${doc.upstream.length}, current: ${
        current ?? "none"
      }, strategy: ${doc.loadBalance}`,
    },
  ];
  if (!config.proxyAccessKey) {
    lines.push({
      level: "warn",
      message:
        "PROXY_ACCESS_KEY is not set: /v1/* answers 401 to everyone until you set it (in .env)",
    });
  }
  if (!config.adminPassword) {
    lines.push({
      level: "warn",
      message: "ADMIN_PASSWORD is not set: the admin pages at /admin are disabled",
    });
  } else {
    lines.push({ level: "info", message: `admin: ${url}/admin` });
  }
  if (doc.upstream.length === 0) {
    const kinds = [...providerChoices(), ...variantChoices()].map((k) => k.kind).join("|");
    const where = config.adminPassword
      ? "on the admin pages"
      : "on the admin pages (once ADMIN_PASSWORD is set)";
    lines.push({
      level: "info",
      message:
        `next: add an upstream ${where}, or: deno task config add <name> <baseUrl> <${kinds}>`,
    });
  }
  services.log.announce(lines);
}

serve();

/**
 * On SIGTERM (a deploy, `docker stop`) answers in flight, Claude Code's streams among them, may
 * finish for a while; new connections are refused. Before Docker's 10 s turns into SIGKILL. Deno
 * Deploy stops an instance with SIGINT and kills it 5 s later: there SIGINT is the deploy's, not
 * Ctrl-C, and the grace is shorter.
 */
const GRACE_MS = config.onDeploy ? 3_500 : 8_000;

async function stop(signal: "SIGINT" | "SIGTERM"): Promise<void> {
  if (stopping) Deno.exit(0); // asked twice: now
  stopping = true;
  if ((signal === "SIGTERM" || config.onDeploy) && current) {
    services.log.log("info", "stopping: finishing the answers in flight", { graceMs: GRACE_MS });
    let graceOver = false;
    const grace = new Promise((r) => setTimeout(r, GRACE_MS)).then(() => graceOver = true);
    await Promise.race([current.shutdown().catch(() => {}), grace]);
    if (graceOver && services.answerStops.size) {
      services.log.log(
        "warn",
        "stopping: ending the streams still being sent with an error event, and answering 529 to requests not yet answered",
        { answers: services.answerStops.size },
      );
      for (const end of [...services.answerStops]) end();
      // Long enough for those last events to be written out.
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  // Request log entries and usage sums are written in batches: write the last batch.
  await services.observability.flush().catch((err) =>
    services.log.log("warn", "the last request log and usage figures could not be written", {
      error: String(err),
    })
  );
  // Not forever: a reader that stopped reading must not keep the server from stopping.
  await drainLog(2_000);
  Deno.exit(0);
}

// Under `deno task dev` (`--watching`) Deno's file watcher shares the process, and outlives any
// exit the server makes: SIGTERM keeps its default there, and ends both.
const watched = Deno.args.includes("--watching");
for (const signal of watched ? ["SIGINT"] as const : ["SIGINT", "SIGTERM"] as const) {
  try {
    Deno.addSignalListener(signal, () => void stop(signal));
  } catch { /* no signals here (Deno Deploy) */ }
}
