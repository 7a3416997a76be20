// `--page`, `--per-page` and `--all` on every list command, run as a process against a stand-in API that pages a
// list of `total` rows the way the management API does (newest first, `page` and `per_page` from the query,
// per_page 1-100): what is asserted is which pages were asked for and that the rows printed are each row once.
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type FakeApi, startFakeApi } from "./fake-api.ts";
import { ROOT } from "./npm-start.ts";
import { type ProcessRun, runProcess } from "./wire.ts";

const BIN = join(ROOT, "cli", "keygate.ts");
const TOKEN = "operator-token-0123456789";

let api: FakeApi;
/** How many rows the stand-in list holds. */
let total = 0;
const row = (n: number) => ({ id: `row_${n}`, name: `row ${n}` });
const rows = (count: number) => Array.from({ length: count }, (_, i) => row(i + 1));

beforeAll(async () => {
  api = await startFakeApi((req, res) => {
    const query = new URL(req.url ?? "/", "http://x").searchParams;
    const page = Number(query.get("page") ?? "1");
    const perPage = Number(query.get("per_page") ?? "20");
    res.setHeader("content-type", "application/json");
    if (!(perPage >= 1 && perPage <= 100)) {
      res.statusCode = 400;
      res.end(JSON.stringify({ error: { code: "validation_error", message: "per_page out of range" } }));
      return;
    }
    const first = (page - 1) * perPage;
    const data = Array.from({ length: Math.max(0, Math.min(perPage, total - first)) }, (_, i) => row(first + i + 1));
    res.end(JSON.stringify({ data, pagination: { page, per_page: perPage, total } }));
  });
});

afterAll(() => api.close());

beforeEach(() => {
  api.requests.length = 0;
  total = 0;
});

function keygate(args: string[]): Promise<ProcessRun> {
  return runProcess(process.execPath, [BIN, ...args], { KEYGATE_URL: api.url, KEYGATE_TOKEN: TOKEN, NO_COLOR: "1" });
}

/** The (page, per_page) of every request so far. */
const pagesAsked = () => api.requests.map((request) => {
  const query = new URL(request.split(" ")[1]!, "http://x").searchParams;
  return [Number(query.get("page")), Number(query.get("per_page"))];
});

const LISTS = [
  ["orgs", "list"],
  ["keys", "list", "org_1"],
  ["audit", "org_1"],
];

describe("keygate <list> --all --per-page n: pages of n rows, each row printed once", () => {
  it.each(LISTS.map((command) => [command.join(" "), command]))("%s: 20 rows by 7 are pages 1-3 of 7, and --json prints the 20 rows as one array", async (_, command) => {
    total = 20;
    const run = await keygate([...command, "--all", "--per-page", "7", "--json"]);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe("");
    expect(pagesAsked()).toEqual([[1, 7], [2, 7], [3, 7]]);
    expect(JSON.parse(run.stdout)).toEqual(rows(20));
  });

  it.each([
    [15, 5, [[1, 5], [2, 5], [3, 5], [4, 5]]],
    [16, 5, [[1, 5], [2, 5], [3, 5], [4, 5]]],
    [4, 5, [[1, 5]]],
    [0, 5, [[1, 5]]],
    [1, 1, [[1, 1], [2, 1]]],
    [100, 100, [[1, 100], [2, 100]]],
  ])("%i rows by %i: the pages %j, then stop (an empty page ends an exact multiple)", async (count, size, pages) => {
    total = count;
    const run = await keygate(["orgs", "list", "--all", "--per-page", String(size), "--json"]);
    expect(run.code).toBe(0);
    expect(pagesAsked()).toEqual(pages);
    expect(JSON.parse(run.stdout)).toEqual(rows(count));
  });

  it("without --per-page, --all reads the largest pages, 100 rows each", async () => {
    total = 250;
    const run = await keygate(["keys", "list", "org_1", "--all", "--json"]);
    expect(run.code).toBe(0);
    expect(pagesAsked()).toEqual([[1, 100], [2, 100], [3, 100]]);
    expect(JSON.parse(run.stdout)).toEqual(rows(250));
  });

  it("for people: one table of every row, or (none) for an empty list", async () => {
    total = 3;
    const table = await keygate(["orgs", "list", "--all", "--per-page", "2"]);
    expect(table.code).toBe(0);
    expect(table.stdout.trim().split("\n")).toHaveLength(4);
    expect(table.stdout).toContain("row_3");
    total = 0;
    const none = await keygate(["audit", "org_1", "--all"]);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe("(none)\n");
  });
});

describe("keygate <list> --all on a list deeper than the API's 10000 pages", () => {
  it("fails with exit 1 and a way out, rather than print the first 10000 pages as if they were all", async () => {
    total = 10_001;
    const run = await keygate(["orgs", "list", "--all", "--per-page", "1", "--json"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe("error: --all read 10000 pages, the deepest the API serves, and there are more rows: raise --per-page (up to 100) or narrow the list with filters\n");
    expect(api.requests).toHaveLength(10_000);
  }, 60_000);
});

describe("keygate: --page and --per-page outside the API's bounds are usage errors, and nothing is sent", () => {
  it.each([
    [["orgs", "list", "--per-page", "0"], "--per-page"],
    [["orgs", "list", "--per-page", "101"], "--per-page"],
    [["keys", "list", "org_1", "--per-page", "1.5", "--all"], "--per-page"],
    [["audit", "org_1", "--all", "--per-page", "500"], "--per-page"],
    [["keys", "list", "org_1", "--all", "--per-page", "1e2"], "--per-page"],
    [["orgs", "list", "--per-page", "ten"], "--per-page"],
    [["orgs", "list", "--per-page", ""], "--per-page"],
    [["orgs", "usage", "org_1", "--per-page", "101"], "--per-page"],
    [["orgs", "list", "--page", "10001"], "--page"],
    [["orgs", "usage", "org_1", "--page", "0"], "--page"],
  ])("%j", async (args, flag) => {
    const run = await keygate(args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain(`option '${flag} <n>' argument`);
    expect(run.stderr).toContain(flag === "--page" ? "must be a whole number from 1 to 10000" : "must be a whole number from 1 to 100");
    expect(api.requests).toEqual([]);
  });

  it("--per-page 100 and --page 10000 are in bounds and sent as given", async () => {
    const run = await keygate(["orgs", "list", "--per-page", "100", "--page", "10000"]);
    expect(run.code).toBe(0);
    expect(pagesAsked()).toEqual([[10000, 100]]);
  });
});
