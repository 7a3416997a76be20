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
          TEST_MIGRATIONS: await readD1Migrations("./drizzle"),
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
      { extends: false, test: { name: "node", include: ["test/node/**/*.test.ts"], environment: "node", testTimeout: 60_000 } },
    ],
  },
});
