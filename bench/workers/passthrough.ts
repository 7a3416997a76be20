// The baseline: the gateway's own proxy step (src/gateway/proxy.ts) and nothing else. No key
// check, no route policy, no rate limit, no usage record; the fastest any gateway on this runtime,
// forwarding the same way, could answer. Built by the benchmark only.
import { renderError } from "../../src/errors";
import { Origin, proxyToOrigin } from "../../src/gateway/proxy";

interface PassThroughEnv {
  ORIGIN_URL: string;
  ORIGIN_TIMEOUT_MS: string;
}

// Parsed once per isolate, as the gateway's config is.
let options: { origin: Origin; timeoutMs: number } | null = null;

export default {
  async fetch(request, env): Promise<Response> {
    options ??= { origin: new Origin(new URL(env.ORIGIN_URL)), timeoutMs: Number(env.ORIGIN_TIMEOUT_MS) };
    try {
      return await proxyToOrigin(request, new URL(request.url), options);
    } catch (err) {
      return renderError(err);
    }
  },
} satisfies ExportedHandler<PassThroughEnv>;
