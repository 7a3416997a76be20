import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { configDefaults, defineConfig } from "vitest/config";
import type { Reporter } from "vitest/node";
import { missingPrograms, skipLine } from "./test/system-programs.ts";

export const TEST_ADMIN_TOKEN = "test-admin-token-0123456789abcdef";

// Suites whose system program (redis-server, chromium) is missing are left out, and the run ends with one loud
// line saying so (test/system-programs.ts). Under CI=true nothing is left out: the missing program fails the run.
const missing = process.env.CI === "true" ? [] : missingPrograms();
const unrunnable = missing.flatMap((entry) => entry.neededBy);
const skippedSuites: Reporter = {
  onTestRunEnd() {
    if (missing.length > 0) console.error(`\n${skipLine(missing)}\n`);
  },
};

export default defineConfig({
  plugins: [
    cloudflareTest(async ({ inject }) => ({
      wrangler: { configPath: "./wrangler.toml" },
      // workerd's verbose mode (the pool's default) prints every exception it sees, including ones our code
      // catches and answers: a refused origin connection (proxy.ts → 502 origin_unreachable), a stopped Upstash
      // bridge or a Durable Object whose table a fault test dropped (the limiter's failure mode). Those tests
      // assert the answers; the worker's own console output (e.g. "keygate: origin unreachable") still shows.
      verbose: false,
      miniflare: {
        bindings: {
          ADMIN_TOKEN: TEST_ADMIN_TOKEN,
          // Test requests share one source ("unknown") and one operator token: the suite-wide limits are
          // out of the way; test/management/abuse.security.test.ts checks the real defaults with its own env.
          AUTH_FAILURE_LIMIT: "1000000/60s",
          MANAGEMENT_RATE_LIMIT: "1000000/60s",
          ORIGIN_URL: inject<string>("originUrl"),
          // The Upstash bridge (test/node/upstash-bridge.ts). RATE_LIMIT_BACKEND stays "durable-object"
          // from wrangler.toml; the Upstash tests build that backend (or a config for it) explicitly.
          UPSTASH_REDIS_REST_URL: inject<string>("upstashUrl"),
          UPSTASH_REDIS_REST_TOKEN: inject<string>("upstashToken"),
          TEST_REDIS_BRIDGE_CONTROL_URL: inject<string>("redisBridgeControlUrl"),
          // SPEC §10 against loopback fixtures (test/node/leak-fixtures.ts): nothing reaches GitHub.
          TEST_LEAK_FIXTURES_URL: inject<string>("leakFixturesUrl"),
          GITHUB_SECRET_SCANNING_KEYS_URL: `${inject<string>("leakFixturesUrl")}/github/default/keys`,
          WEBHOOK_URL: `${inject<string>("leakFixturesUrl")}/webhooks`,
          WEBHOOK_SECRET: inject<string>("webhookSecret"),
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
    // secrets-scan.ts fails any file during which the worker printed a full key or the admin token.
    setupFiles: ["./test/apply-migrations.ts", "./test/secrets-scan.ts"],
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    exclude: [...configDefaults.exclude, "test/node/**", "test/console/browser.test.ts", ...unrunnable],
    reporters: ["default", skippedSuites],
    testTimeout: 30_000,
    // Two projects: the worker's tests inside workerd (everything above), and the operator scripts
    // (npm start, check-config) in plain Node, where they actually run.
    projects: [
      { extends: true, test: { name: "workers" } },
      // One file at a time: every `npm start` in a checkout shares .wrangler/state, and two at once fail with SQLITE_BUSY.
      // hookTimeout: stopping `npm start` first drains usage (up to 15 s, scripts/start.ts) and then gives workerd 5 s.
      { extends: false, test: { name: "node", include: ["test/node/**/*.test.ts", "test/console/browser.test.ts"], exclude: [...configDefaults.exclude, ...unrunnable], environment: "node", testTimeout: 60_000, hookTimeout: 120_000, fileParallelism: false } },
    ],
  },
});
