import type { D1Migration } from "cloudflare:test";
import type { Env as KeygateEnv } from "../src/env";

declare global {
  namespace Cloudflare {
    interface Env extends KeygateEnv {
      TEST_MIGRATIONS: D1Migration[];
      TEST_LEAK_FIXTURES_URL: string;
      USAGE_STORAGE_DB: D1Database;
    }
    interface GlobalProps {
      mainModule: typeof import("../src/index");
      durableNamespaces: "RateLimiterObject";
    }
  }
}
