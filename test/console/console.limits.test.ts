// The console under the management API's own limits (SPEC §9): a page or sign-in the API refuses with 429 is a
// 429 with Retry-After, as the API's answer is, never a 200 page or a bare "try again". Defaults (20 failed
// authentications per 60 s per source, 600 calls per credential per 60 s), so the worker gets an env without the
// test config's raised limits.
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { ORIGIN } from "../harness";
import { CONSOLE, cookieHeader, cookiesOf, csrfIn } from "./support";

const defaults = { ...env } as Record<string, unknown>;
delete defaults.AUTH_FAILURE_LIMIT;
const defaultEnv = defaults as unknown as typeof env;

const run = crypto.getRandomValues(new Uint16Array(2));
// Its own /64: the failure limit counts an IPv6 client by its /64.
const source = `2001:db8:${run[0]!.toString(16)}:${run[1]!.toString(16)}::7`;

async function call(path: string, init: RequestInit = {}, vars = defaultEnv): Promise<Response> {
  const ctx = createExecutionContext();
  const headers = new Headers(init.headers);
  if (!headers.has("cf-connecting-ip")) headers.set("cf-connecting-ip", source);
  const res = await worker.fetch(new Request(ORIGIN + CONSOLE + path, { redirect: "manual", ...init, headers }), vars, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

async function signInWith(credential: string): Promise<Response> {
  const first = await call("/sign-in");
  const jar = cookiesOf(first);
  return call("/sign-in", {
    method: "POST",
    headers: { cookie: cookieHeader(jar), "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ _csrf: csrfIn(await first.text()), credential }),
  });
}

describe("console: the API's 429s", () => {
  it("a source over AUTH_FAILURE_LIMIT gets 429 with Retry-After on the sign-in page, even with the right token", async () => {
    for (let i = 0; i < 20; i++) expect((await signInWith("not-the-operator-token-0123456789")).status).toBe(401);
    for (const credential of ["not-the-operator-token-0123456789", env.ADMIN_TOKEN!]) {
      const res = await signInWith(credential);
      expect(res.status).toBe(429);
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(await res.text()).toContain("Too many attempts");
      expect(res.headers.getSetCookie().some((line) => line.startsWith("keygate_console="))).toBe(false);
    }
  });

  it("a credential over MANAGEMENT_RATE_LIMIT gets its console pages answered 429 with Retry-After", async () => {
    // A fresh operator token of its own (its own rate-limit bucket), with a small limit.
    const from = { "cf-connecting-ip": `2001:db8:${run[0]!.toString(16)}:${(run[1]! + 1).toString(16)}::8` };
    const vars = { ...env, ADMIN_TOKEN: `console-limit-${run[0]}-${run[1]}-0123456789abcdef`, MANAGEMENT_RATE_LIMIT: "4/60s" } as typeof env;
    const first = await call("/sign-in", { headers: from }, vars);
    const jar = cookiesOf(first);
    const signedIn = await call("/sign-in", {
      method: "POST",
      headers: { ...from, cookie: cookieHeader(jar), "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ _csrf: csrfIn(await first.text()), credential: vars.ADMIN_TOKEN! }),
    }, vars);
    expect(signedIn.status).toBe(303);
    cookiesOf(signedIn, jar);
    let res: Response | undefined;
    for (let i = 0; i < 10; i++) {
      res = await call("/orgs", { headers: { ...from, cookie: cookieHeader(jar) } }, vars);
      if (res.status !== 200) break;
    }
    expect(res!.status).toBe(429);
    expect(Number(res!.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await res!.text()).toContain("rate_limited");
  });
});
