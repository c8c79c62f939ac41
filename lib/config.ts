// The environment, read once at start and validated: the only module that reads it.
import { messageOf } from "./errors.ts";
import { z } from "zod";

/** The key-picking strategies, in the order they are offered. */
export const STRATEGIES = ["round-robin", "random", "failover"] as const;

const TRUE = ["true", "1", "yes", "on"];
const FALSE = ["false", "0", "no", "off"];

const bool = (fallback: boolean) =>
  z.string().optional().transform((v, ctx) => {
    if (v === undefined) return fallback;
    const word = v.trim().toLowerCase();
    if (TRUE.includes(word)) return true;
    if (FALSE.includes(word)) return false;
    ctx.addIssue({ code: "custom", message: "must be true or false (or 1/0, yes/no, on/off)" });
    return z.NEVER;
  });

/** The longest delay a timer holds: past it setTimeout fires at once (after 1 ms). */
const TIMER_MAX = 2_147_483_647;

const int = (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.string().optional().transform((v, ctx) => {
    if (v === undefined) return fallback;
    // Plain digits only: Number() would read "0x10" as 16 and "1e3" as 1000 without a word.
    const n = /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < min) {
      ctx.addIssue({ code: "custom", message: `must be a whole number of at least ${min}` });
      return z.NEVER;
    }
    if (n > max) {
      ctx.addIssue({ code: "custom", message: `must be at most ${max}` });
      return z.NEVER;
    }
    return n;
  });

/** How a browser writes an Origin: scheme://host[:port] and nothing after it, or "null". */
const ORIGIN = /^(?:null|[a-z][a-z0-9+.-]*:\/\/[^/?#\s]+)$/i;

/**
 * CORS_ORIGIN is `*` or origins separated by commas. Each is compared with the browser's Origin
 * as it is: one written otherwise (a trailing slash, a capital, :443) would never match, silently.
 */
function checkOrigins(value: string, ctx: z.RefinementCtx): void {
  if (value.trim() === "*") return;
  for (const origin of value.split(",").map((o) => o.trim()).filter(Boolean)) {
    let problem: string | undefined;
    if (origin === "*") problem = "* allows every origin, so it stands alone";
    else {
      let canonical: string | undefined;
      try {
        const url = new URL(origin);
        if (url.protocol === "http:" || url.protocol === "https:") canonical = url.origin;
      } catch { /* not a URL: the pattern below says so */ }
      if (canonical && canonical !== origin) {
        problem = `"${origin}" is not an origin as browsers send it: write ${canonical}`;
      } else if (!ORIGIN.test(origin)) {
        problem =
          `"${origin}" is not an origin (scheme://host[:port], such as https://app.example)`;
      }
    }
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  }
}

/** Paths the proxy serves itself: a health check there would hide them, or they it. */
const OWN_PATHS = /^\/(?:$|v1(?:\/|$)|admin(?:\/|$)|static(?:\/|$)|metrics\/?$|api\/hello\/?$)/;

/** A literal path (":" and "*" would make it a pattern that answers for other paths). */
function checkHealthPath(path: string, ctx: z.RefinementCtx): void {
  if (!/^\/[A-Za-z0-9._~\-/]*$/.test(path)) {
    ctx.addIssue({
      code: "custom",
      message: "must be a path such as /health (/ then letters, digits, - _ . ~ and /)",
    });
  } else if (OWN_PATHS.test(path)) {
    ctx.addIssue({
      code: "custom",
      message:
        "must not be a path the proxy serves itself (/, /v1/…, /admin…, /static/…, /metrics, /api/hello)",
    });
  }
}

/** Sent by clients in an HTTP header, which cannot carry other characters or keep spaces at its ends. */
const optionalSecret = z.string().regex(
  /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/,
  "must be printable ASCII, without spaces at either end: clients send it in an HTTP header",
).optional();

/** Their values are not repeated in a message about them. */
const SECRETS = new Set(["PROXY_ACCESS_KEY", "ADMIN_PASSWORD", "METRICS_TOKEN"]);

const EnvSchema = z.object({
  PORT: int(3000, 0).refine((n) => n <= 65535, "must be a port number (0-65535)"),
  HOSTNAME: z.string().min(1).default("0.0.0.0"),
  PROXY_ACCESS_KEY: optionalSecret,
  ADMIN_PASSWORD: optionalSecret,
  KV_PATH: z.string().min(1).default("./data/proxy.kv"),
  LOAD_BALANCE_STRATEGY: z.enum(STRATEGIES, {
    message: "must be round-robin, random or failover",
  }).default("failover"),
  LOG_LEVEL: z.enum(["error", "warn", "info", "debug"], {
    message: "must be error, warn, info or debug",
  }).default("info"),
  LOG_FORMAT: z.enum(["text", "json"], { message: "must be text or json" }).default("text"),
  ENABLE_REQUEST_LOGS: bool(false),
  ENABLE_RESPONSE_LOGS: bool(false),
  REQUEST_TIMEOUT: int(600_000, 1, TIMER_MAX),
  MAX_CONCURRENT_REQUESTS: int(100, 1),
  MAX_BODY_SIZE: int(33_554_432, 1),
  ENABLE_CORS: bool(true),
  CORS_ORIGIN: z.string().superRefine(checkOrigins).default("*"),
  ENABLE_RATE_LIMIT: bool(false),
  RATE_LIMIT_WINDOW: int(60_000, 1),
  RATE_LIMIT_MAX_REQUESTS: int(100, 1),
  HEALTH_CHECK_ENABLED: bool(true),
  HEALTH_CHECK_PATH: z.string().trim().superRefine(checkHealthPath).default("/health"),
  REQUEST_LOG_MAX: int(10_000, 0),
  // Deno KV refuses an expiry much past 2.5 billion hours; a million (114 years) is plenty.
  REQUEST_LOG_TTL_HOURS: int(168, 1, 1_000_000),
  LOG_BODY_MAX_BYTES: int(16_384, 0),
  METRICS_TOKEN: optionalSecret,
  STREAM_PING_INTERVAL: int(15_000, 100, TIMER_MAX),
  UPSTREAM_CLIENT: z.enum(["http1", "fetch"], { message: "must be http1 or fetch" }).default(
    "http1",
  ),
  DENO_DEPLOYMENT_ID: z.string().optional(),
  HTTPS_PROXY: z.string().optional(),
  HTTP_PROXY: z.string().optional(),
  ALL_PROXY: z.string().optional(),
  https_proxy: z.string().optional(),
  http_proxy: z.string().optional(),
  all_proxy: z.string().optional(),
});

export type Strategy = (typeof STRATEGIES)[number];

export interface Config {
  port: number;
  hostname: string;
  proxyAccessKey?: string;
  adminPassword?: string;
  kvPath: string;
  loadBalanceStrategy: Strategy;
  logLevel: "error" | "warn" | "info" | "debug";
  logFormat: "text" | "json";
  enableRequestLogs: boolean;
  enableResponseLogs: boolean;
  requestTimeout: number;
  maxConcurrentRequests: number;
  maxBodySize: number;
  enableCors: boolean;
  corsOrigin: string;
  enableRateLimit: boolean;
  rateLimitWindow: number;
  rateLimitMaxRequests: number;
  healthCheckEnabled: boolean;
  healthCheckPath: string;
  requestLogMax: number;
  requestLogTtlHours: number;
  logBodyMaxBytes: number;
  metricsToken?: string;
  /** Silence, in ms, after which a stream gets a `ping` event. */
  streamPingInterval: number;
  /** Running on Deno Deploy: KV opens without a path and nothing writes files. */
  onDeploy: boolean;
  /** How upstreams are called: the proxy's pooled HTTP/1.1 client, or Deno's fetch. */
  upstreamClient: "http1" | "fetch";
}

/** A setting that failed validation; the message names the variable. */
export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    /** How to report it: LOG_FORMAT as given, when it was itself valid. */
    readonly logFormat: "text" | "json" = "text",
  ) {
    super(`Invalid settings:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

/** Parses `.env` text: `KEY=value`, optional `export`, quotes, `#` comments. */
export function parseDotEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = line.match(/^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/);
    if (!m) continue;
    let value = m[2];
    // A quoted value may be followed by a comment: `KEY="value" # note` is value, not "value".
    const quoted = value.match(/^(["'])(.*?)\1\s*(?:#.*)?$/);
    if (quoted) {
      value = quoted[2];
      if (quoted[1] === '"') value = value.replace(/\\n/g, "\n");
    } else {
      value = value.replace(/\s+#.*$/, "");
    }
    out[m[1]] = value;
  }
  return out;
}

/**
 * The variables that are set: `NAME=` (an empty line in .env, an exported empty variable) means
 * "not set", so every variable falls back to its default alike.
 */
function setOnly(vars: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(vars)) {
    if (value !== undefined && value.trim() !== "") out[name] = value;
  }
  return out;
}

/** `.env` under the real environment, which wins where it sets a value. */
export function mergeEnv(
  fileVars: Record<string, string | undefined>,
  realVars: Record<string, string | undefined>,
): Record<string, string> {
  return { ...setOnly(fileVars), ...setOnly(realVars) };
}

/** Validates raw variables into a Config, listing every bad one; empty values count as unset. */
export function parseConfig(vars: Record<string, string | undefined>): Config {
  const env = setOnly(vars);
  const result = EnvSchema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((i) => {
        const name = String(i.path[0]);
        return SECRETS.has(name)
          ? `${i.path.join(".")}: ${i.message}`
          : `${i.path.join(".")}: ${i.message} (got "${env[name] ?? ""}")`;
      }),
      env.LOG_FORMAT === "json" ? "json" : "text",
    );
  }
  const e = result.data;
  return {
    port: e.PORT,
    hostname: e.HOSTNAME,
    proxyAccessKey: e.PROXY_ACCESS_KEY,
    adminPassword: e.ADMIN_PASSWORD,
    kvPath: e.KV_PATH,
    loadBalanceStrategy: e.LOAD_BALANCE_STRATEGY,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    enableRequestLogs: e.ENABLE_REQUEST_LOGS,
    enableResponseLogs: e.ENABLE_RESPONSE_LOGS,
    requestTimeout: e.REQUEST_TIMEOUT,
    maxConcurrentRequests: e.MAX_CONCURRENT_REQUESTS,
    maxBodySize: e.MAX_BODY_SIZE,
    enableCors: e.ENABLE_CORS,
    corsOrigin: e.CORS_ORIGIN,
    enableRateLimit: e.ENABLE_RATE_LIMIT,
    rateLimitWindow: e.RATE_LIMIT_WINDOW,
    rateLimitMaxRequests: e.RATE_LIMIT_MAX_REQUESTS,
    healthCheckEnabled: e.HEALTH_CHECK_ENABLED,
    healthCheckPath: e.HEALTH_CHECK_PATH,
    requestLogMax: e.REQUEST_LOG_MAX,
    requestLogTtlHours: e.REQUEST_LOG_TTL_HOURS,
    logBodyMaxBytes: e.LOG_BODY_MAX_BYTES,
    metricsToken: e.METRICS_TOKEN,
    streamPingInterval: e.STREAM_PING_INTERVAL,
    onDeploy: Boolean(e.DENO_DEPLOYMENT_ID),
    // Deno's fetch honours the proxy variables and runs everywhere; the own client is the default
    // where neither matters.
    upstreamClient: e.UPSTREAM_CLIENT === "fetch" || e.DENO_DEPLOYMENT_ID ||
        e.HTTPS_PROXY || e.HTTP_PROXY || e.ALL_PROXY || e.https_proxy || e.http_proxy ||
        e.all_proxy
      ? "fetch"
      : "http1",
  };
}

/**
 * The variables of a `.env` file; none when there is no such file (or no right to read files, as
 * on Deno Deploy). One that is there but cannot be read is a ConfigError: its settings (KV_PATH
 * above all) silently left out would send the server or the CLI to another store.
 */
export function readDotEnv(
  path: string,
  logFormat: ConfigError["logFormat"] = "text",
): Record<string, string> {
  try {
    return parseDotEnv(Deno.readTextFileSync(path));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotCapable) return {};
    throw new ConfigError(
      [`${path}: cannot read it: ${messageOf(err)}`],
      logFormat,
    );
  }
}

/** The real environment's variables. */
export function environment(): Record<string, string> {
  return Deno.env.toObject();
}

/**
 * Read by Deno itself, not through Config: fetch's proxy and KV Connect's token. Deno looks for
 * them in the process's environment only.
 */
const RUNTIME_VARS = [
  "HTTPS_PROXY",
  "HTTP_PROXY",
  "ALL_PROXY",
  "NO_PROXY",
  "https_proxy",
  "http_proxy",
  "all_proxy",
  "no_proxy",
  "DENO_KV_ACCESS_TOKEN",
];

/** Puts the runtime's variables `.env` sets, and the real environment does not, where Deno reads them. */
export function exportRuntimeVars(
  fileVars: Record<string, string | undefined>,
  realVars: Record<string, string | undefined>,
): void {
  for (const name of RUNTIME_VARS) {
    const value = fileVars[name];
    if (value?.trim() && !realVars[name]?.trim()) Deno.env.set(name, value);
  }
}

/** Reads `.env` (when present) under the real environment, which wins, and validates it. */
export function loadConfig(dotEnvPath = ".env"): Config {
  const env = environment();
  const format = env.LOG_FORMAT === "json" ? "json" : "text";
  const fileVars = readDotEnv(dotEnvPath, format);
  const config = parseConfig(mergeEnv(fileVars, env));
  exportRuntimeVars(fileVars, env);
  return config;
}
