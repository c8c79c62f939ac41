// A running proxy in front of one fake upstream, with the official SDK pointed at it.
import Anthropic from "@anthropic-ai/sdk";
import type { Strategy } from "../../lib/config.ts";
import type { UpstreamConfig } from "../../lib/providers/types.ts";
import { ACCESS_KEY, startTestServer, type TestServer } from "./server.ts";

export interface ProxiedFake<F> {
  fake: F;
  server: TestServer;
  client: Anthropic;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function proxyTo<F extends { url: string; close(): Promise<void> }>(
  fake: F,
  upstream: Partial<UpstreamConfig> & Pick<UpstreamConfig, "name" | "serviceType" | "apiKeys">,
  options: { env?: Record<string, string>; loadBalance?: Strategy } = {},
): Promise<ProxiedFake<F>> {
  const server = await startTestServer({
    env: options.env,
    config: {
      upstream: [{ baseUrl: fake.url, ...upstream }],
      loadBalance: options.loadBalance ?? "failover",
    },
  });
  return {
    fake,
    server,
    client: new Anthropic({ apiKey: ACCESS_KEY, baseURL: server.url, maxRetries: 0 }),
    async [Symbol.asyncDispose]() {
      await server.close();
      await fake.close();
    },
  };
}
