import { it } from "vitest";
import { adminFetch, createKey, createOrg } from "../harness";
it("probe", async () => {
  const { id } = await createOrg();
  const k = await createKey(id);
  const deep = (n: number) => "[".repeat(n) + "]".repeat(n);
  const deepObj = (n: number) => '{"a":'.repeat(n) + "1" + "}".repeat(n);
  const bodies: [string, string, string, string][] = [
    ["deep body", "POST", `/orgs/${id}/keys`, deep(32000)],
    ["deep meta arr", "POST", `/orgs/${id}/keys`, `{"name":"x","scopes":["demo:read"],"meta":{"a":${deep(30000)}}}`],
    ["deep meta obj", "POST", `/orgs/${id}/keys`, `{"name":"x","scopes":["demo:read"],"meta":${deepObj(10000)}}`],
    ["deep patch meta", "PATCH", `/orgs/${id}/keys/${k.id}`, `{"meta":{"a":${deep(30000)}}}`],
    ["deep scopes", "POST", `/orgs/${id}/keys`, `{"name":"x","scopes":${deep(30000)}}`],
    ["deep org", "POST", `/orgs`, `{"name":${deep(30000)},"tier":"free"}`],
    ["deep rotate", "POST", `/orgs/${id}/keys/${k.id}/rotate`, `{"grace_period":${deep(30000)}}`],
    ["many keys meta", "POST", `/orgs/${id}/keys`, `{"name":"x","scopes":["demo:read"],"meta":{${Array.from({ length: 6000 }, (_, i) => `"k${i}":1`).join(",")}}}`],
    ["many fields", "POST", `/orgs/${id}/keys`, `{"name":"x","scopes":["demo:read"],${Array.from({ length: 6000 }, (_, i) => `"k${i}":1`).join(",")}}`],
    ["big scopes arr", "POST", `/orgs/${id}/keys`, `{"name":"x","scopes":[${Array.from({ length: 12000 }, () => `"a"`).join(",")}]}`],
    ["big ips arr", "POST", `/orgs/${id}/keys`, `{"name":"x","scopes":["demo:read"],"allowed_ips":[${Array.from({ length: 12000 }, () => `"1"`).join(",")}]}`],
  ];
  for (const [name, method, path, body] of bodies) {
    const t0 = Date.now();
    const r = await adminFetch(path, { method, headers: { "content-type": "application/json" }, body });
    console.log(`## ${name} (${body.length} B) ${r.status} ${Date.now() - t0}ms ${(await r.text()).slice(0, 250)}`);
  }
});
