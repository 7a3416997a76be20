// `keys revoke` without --yes at a terminal: the confirmation prompt, run in-process with a stand-in terminal
// (a stream marked as a TTY) so what is typed, or not typed, is under the test's control.
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { main } from "../../cli/program.ts";
import { type FakeApi, startFakeApi } from "./fake-api.ts";

let api: FakeApi;
let url: string;
let requests: string[];

beforeAll(async () => {
  api = await startFakeApi((_req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ data: { id: "key_1", name: "k", identifier: "kg_abcdefgh", last4: "wxyz", scopes: ["demo:read"], status: "revoked" } }));
  });
  ({ url, requests } = api);
});

afterAll(() => api.close());

beforeEach(() => {
  requests.length = 0;
});

/** Runs `keygate keys revoke org_1 key_1` with `type` deciding what the person at the terminal does once asked. */
async function revokeAtTerminal(type: (stdin: PassThrough) => void): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdin = Object.assign(new PassThrough(), { isTTY: true });
  let stdout = "";
  let stderr = "";
  const sink = (append: (text: string) => void) => Object.assign(new PassThrough(), { write: (text: string) => (append(String(text)), true) });
  const err = sink((text) => {
    stderr += text;
    if (text.includes("[y/N]")) type(stdin);
  });
  const code = await main(["keys", "revoke", "org_1", "key_1"], {
    stdin: stdin as unknown as NodeJS.ReadStream,
    stdout: sink((text) => (stdout += text)) as unknown as NodeJS.WriteStream,
    stderr: err as unknown as NodeJS.WriteStream,
    env: { KEYGATE_URL: url, KEYGATE_TOKEN: "operator-token-0123456789", NO_COLOR: "1" },
  });
  return { code, stdout, stderr };
}

describe("keys revoke at a terminal", () => {
  it("revokes after y", async () => {
    const run = await revokeAtTerminal((stdin) => stdin.write("y\n"));
    expect(run.code).toBe(0);
    expect(requests).toEqual(["POST /_keygate/v1/orgs/org_1/keys/key_1/revoke"]);
    expect(run.stdout).toMatch(/^status\s+revoked$/m);
  });

  it.each([
    ["Enter alone", (stdin: PassThrough) => stdin.write("\n")],
    ["n", (stdin: PassThrough) => stdin.write("n\n")],
    ["Ctrl-D (the terminal closes the input)", (stdin: PassThrough) => stdin.end()],
  ])("%s: not revoked, exit 2, one line and no stack trace", async (_, type) => {
    const run = await revokeAtTerminal(type);
    expect(run.code).toBe(2);
    expect(requests).toEqual([]);
    expect(run.stderr).toMatch(/\[y\/N\] (\n)?error: not revoked\n$/);
  });
});
