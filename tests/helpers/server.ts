// Starts the real app on a loopback port with an in-memory store, for tests that use real clients.
import { createApp, serveErrorHandler } from "../../lib/app.ts";
import { parseConfig } from "../../lib/config.ts";
import type { ConfigDocument } from "../../lib/config_document.ts";
import { createLogger } from "../../lib/log.ts";
import { createServices, type Services } from "../../lib/services.ts";

export const ACCESS_KEY = "test-access-key-0123456789";
export const ADMIN_PASSWORD = "test-admin-password-42";

export interface TestServer {
  url: string;
  services: Services;
  kv: Deno.Kv;
  /** Every log line the server wrote. */
  logs: string[];
  close(): Promise<void>;
}

export async function startTestServer(options: {
  env?: Record<string, string>;
  config?: Partial<ConfigDocument> & { upstream: ConfigDocument["upstream"] };
  kv?: Deno.Kv;
} = {}): Promise<TestServer> {
  const config = parseConfig({
    PROXY_ACCESS_KEY: ACCESS_KEY,
    ADMIN_PASSWORD,
    LOG_LEVEL: "debug",
    ...options.env,
  });
  const ownKv = !options.kv;
  const kv = options.kv ?? await Deno.openKv(":memory:");
  const logs: string[] = [];
  const logger = createLogger(config, (line) => logs.push(line));
  const services = await createServices(kv, config, { logger });
  if (options.config) await services.store.replace(options.config);
  const app = createApp(services);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {}, onError: serveErrorHandler(services) },
    app.fetch,
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    services,
    kv,
    logs,
    async close() {
      await server.shutdown();
      await services.observability.flush();
      services.close();
      if (ownKv) kv.close();
    },
  };
}
