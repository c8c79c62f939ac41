// Everything a request handler may use, built once per process (or per test) and passed down.
import { messageOf } from "./errors.ts";
import type { Config } from "./config.ts";
import { urlSecrets } from "./secret_mask.ts";
import { createHttpClient, fetchWithoutRedirects } from "./http/http_client.ts";
import { healthIndex, KeyPool } from "./key_pool.ts";
import { createLogger, type Logger } from "./log.ts";
import { OutputLimits } from "./output_limits.ts";
import { RefusedBetas } from "./refused_betas.ts";
import { RefusedFields } from "./refused_fields.ts";
import type { Recorder } from "./request_record.ts";
import { createObservability, type Observability } from "./observability/recorder.ts";
import { ConfigStore } from "./store/config_store.ts";
import { KeyHealthStore } from "./store/key_health_store.ts";
import { SessionStore } from "./store/session_store.ts";

/** The longest a key that timed out stays aside before it is tried again. */
const SLOW_KEY_MAX_MS = 600_000;

export interface Services {
  config: Config;
  store: ConfigStore;
  /** The admin's sign-in sessions, kept in KV so that every instance knows them. */
  sessions: SessionStore;
  health: KeyHealthStore;
  pool: KeyPool;
  log: Logger;
  /** Receives every finished request (log line, request log, usage, metrics). */
  recorder: Recorder;
  /** Request log, usage counters and metrics (its recorder is the default `recorder`). */
  observability: Observability;
  /** Output-token limits upstreams named in their errors, learned per instance. */
  outputLimits: OutputLimits;
  /** `anthropic-beta` flags Anthropic-compatible upstreams refused, learned per instance. */
  refusedBetas: RefusedBetas;
  refusedFields: RefusedFields;
  /** /v1/messages requests being served by this instance now. */
  inFlight: { count: number };
  /**
   * How to end each answer in flight when the server stops before it is done, rather than cut its
   * connection: a stream being sent with an error event the client can act on, a request not yet
   * answered with 529.
   */
  answerStops: Set<() => void>;
  /** Upstream calls go through this (tests may inject their own). */
  fetch: typeof fetch;
  now: () => number;
  startedAt: number;
  close(): void;
}

export interface ServiceOptions {
  fetch?: typeof fetch;
  now?: () => number;
  logger?: Logger;
  recorder?: Recorder;
  /** Follow changes made by other instances (kv.watch); on by default. */
  watch?: boolean;
  /** Also poll for changes every so many ms (local KV files: watch misses other processes). */
  pollMs?: number;
}

export async function createServices(
  kv: Deno.Kv,
  config: Config,
  options: ServiceOptions = {},
): Promise<Services> {
  const now = options.now ?? Date.now;
  const log = options.logger ?? createLogger(config);
  // Through the logger, so LOG_FORMAT=json output stays one object per line.
  const onError = (message: string, err: unknown) =>
    log.log("error", message, { error: messageOf(err) });
  const follow = { watch: options.watch, pollMs: options.pollMs, onError };
  const store = await ConfigStore.open(kv, config.loadBalanceStrategy, follow);
  const index = () => healthIndex(store.snapshot);
  const health = await KeyHealthStore.open(kv, { now, ...follow, index });
  // Whatever changed the configuration (a page, the API, the CLI, another instance): the states
  // of keys it no longer holds go, so none lingers in KV. A rename leaves nothing to drop.
  store.onChange(() => {
    health.prune(index()).catch((err) => onError("could not drop the health of removed keys", err));
  });
  for (const secret of [config.proxyAccessKey, config.adminPassword, config.metricsToken]) {
    log.addSecret(secret);
  }
  const learnKeys = () =>
    log.setKeys(
      store.snapshot.doc.upstream.flatMap((u) => [...u.apiKeys, ...urlSecrets(u.baseUrl ?? "")]),
    );
  learnKeys();
  store.onChange(learnKeys);
  const observability = createObservability(kv, config, log, { now });
  const client = !options.fetch && config.upstreamClient === "http1"
    ? createHttpClient()
    : undefined;
  return {
    config,
    store,
    sessions: new SessionStore(kv, now, config.adminPassword),
    health,
    pool: new KeyPool(health, Math.random, Math.min(SLOW_KEY_MAX_MS, 2 * config.requestTimeout)),
    log,
    recorder: options.recorder ?? observability.recorder,
    observability,
    inFlight: { count: 0 },
    answerStops: new Set(),
    outputLimits: new OutputLimits(),
    refusedBetas: new RefusedBetas(),
    refusedFields: new RefusedFields(),
    fetch: options.fetch ?? client?.fetch ?? fetchWithoutRedirects,
    now,
    startedAt: now(),
    close() {
      store.close();
      health.close();
      observability.close();
      client?.close();
    },
  };
}
