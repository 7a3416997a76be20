import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { configDefaults, defineConfig } from "vitest/config";

export const TEST_ADMIN_TOKEN = "test-admin-token-0123456789abcdef";

export default defineConfig({
  plugins: [
    cloudflareTest(async ({ inject }) => ({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          ADMIN_TOKEN: TEST_ADMIN_TOKEN,
          ORIGIN_URL: inject<string>("originUrl"),
          // The Upstash bridge (test/node/upstash-bridge.ts). RATE_LIMIT_BACKEND stays "durable-object"
          // from wrangler.toml; the Upstash tests build that backend (or a config for it) explicitly.
          UPSTASH_REDIS_REST_URL: inject<string>("upstashUrl"),
          UPSTASH_REDIS_REST_TOKEN: inject<string>("upstashToken"),
          TEST_REDIS_BRIDGE_CONTROL_URL: inject<string>("redisBridgeControlUrl"),
          TEST_MIGRATIONS: await readD1Migrations("./drizzle"),
          // Usage leaves the isolate quickly in tests, so pipeline tests do not wait 10 s per flush.
          USAGE_FLUSH_INTERVAL_MS: "50",
        },
        // A second, empty database: test/usage/storage.test.ts measures D1 growth there, undisturbed by other tests.
        d1Databases: { DB: "00000000-0000-0000-0000-000000000000", USAGE_STORAGE_DB: "usage-storage-measurement" },
        analyticsEngineDatasets: {
          USAGE_EVENTS: { dataset: "keygate_usage_test" },
        },
      },
    })),
  ],
  test: {
    globalSetup: ["./test/global-setup.ts"],
    setupFiles: ["./test/apply-migrations.ts"],
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    exclude: [...configDefaults.exclude, "test/node/**"],
    testTimeout: 30_000,
    // Two projects: the worker's tests inside workerd (everything above), and the operator scripts
    // (npm start, check-config) in plain Node, where they actually run.
    projects: [
      { extends: true, test: { name: "workers" } },
      // One file at a time: every `npm start` in a checkout shares .wrangler/state, and two at once fail with SQLITE_BUSY.
      { extends: false, test: { name: "node", include: ["test/node/**/*.test.ts"], environment: "node", testTimeout: 60_000, fileParallelism: false } },
    ],
  },
});
