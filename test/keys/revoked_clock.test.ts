// A revocation is final the moment it is stored, whatever the clock of the location reading it says:
// revoked_at is stamped by the clock of the isolate that revoked, which may run ahead of this one (or
// the lookup may have started a moment before the revoke committed).
import { describe, it } from "vitest";
import { keyFetch } from "../harness";
import { expectError } from "../management/support";
import { seedKey } from "../gateway/seed";

describe("a revoked key", () => {
  it("is refused even when its revoked_at is later than this isolate's clock", async () => {
    const { key } = await seedKey({ tier: "free", scopes: ["demo:read"], revokedAt: Date.now() + 60_000 });
    await expectError(await keyFetch(key, "/demo/items"), 401, "key_revoked");
  });
});
