// The keyring against the loopback keys endpoint (test/node/leak-fixtures.ts), with its clock injected.
import { describe, expect, it } from "vitest";
import { keysEndpoint, newGithubSigner } from "../../test/leaks/support";
import { GithubKeyring } from "./github_keys";

const MINUTE = 60_000;

/** GitHub's endpoint publishing one signer, and a keyring over it whose clock the test moves (`clock.now`). */
async function publishedKeyring() {
  const keys = keysEndpoint();
  const signer = await newGithubSigner();
  await keys.publish(signer);
  const clock = { now: 1_000_000 };
  return { keys, signer, clock, keyring: new GithubKeyring(keys.url, () => clock.now) };
}

describe("GithubKeyring", () => {
  it("fetches once, serves from memory, and refetches after an hour", async () => {
    const { keys, signer, clock, keyring } = await publishedKeyring();
    expect(await keyring.keyFor(signer.identifier)).not.toBeNull();
    clock.now += 59 * MINUTE;
    expect(await keyring.keyFor(signer.identifier)).not.toBeNull();
    expect(await keys.fetches()).toBe(1);
    clock.now += 2 * MINUTE;
    expect(await keyring.keyFor(signer.identifier)).not.toBeNull();
    expect(await keys.fetches()).toBe(2);
  });

  it("refetches for an unknown identifier at most once a minute", async () => {
    const { keys, signer: first, clock, keyring } = await publishedKeyring();
    await keyring.keyFor(first.identifier);
    expect(await keyring.keyFor("made-up-1")).toBeNull();
    expect(await keys.fetches()).toBe(2);
    const rotated = await newGithubSigner();
    await keys.publish(first, rotated);
    // Within the minute: not fetched again, so the new key is not known yet.
    expect(await keyring.keyFor(rotated.identifier)).toBeNull();
    expect(await keys.fetches()).toBe(2);
    clock.now += MINUTE + 1;
    expect(await keyring.keyFor(rotated.identifier)).not.toBeNull();
    expect(await keys.fetches()).toBe(3);
  });

  it("keeps serving the keys it has when GitHub is down, and fails with 503 when it has none", async () => {
    const { keys, signer, clock, keyring } = await publishedKeyring();
    await keyring.keyFor(signer.identifier);
    await keys.down(true);
    clock.now += 2 * 60 * MINUTE;
    expect(await keyring.keyFor(signer.identifier)).not.toBeNull();
    await expect(keyring.keyFor("rotated-while-down")).rejects.toMatchObject({ code: "signing_keys_unavailable", status: 503 });
    await expect(new GithubKeyring(keys.url).keyFor(signer.identifier)).rejects.toMatchObject({ code: "signing_keys_unavailable" });
  });

  it("with an expired document and GitHub down, serves the old keys and tries GitHub again at most once a minute", async () => {
    const { keys, signer, clock, keyring } = await publishedKeyring();
    await keyring.keyFor(signer.identifier);
    await keys.down(true);
    clock.now += 2 * 60 * MINUTE;
    // Every report (and anyone naming GitHub's identifier) would otherwise wait for a fetch that fails.
    for (let i = 0; i < 5; i++) expect(await keyring.keyFor(signer.identifier)).not.toBeNull();
    expect(await keys.fetches()).toBe(2);
    // An identifier it does not know cannot be checked meanwhile: 503, so GitHub sends the report again later.
    await expect(keyring.keyFor("rotated-while-down")).rejects.toMatchObject({ code: "signing_keys_unavailable" });
    expect(await keys.fetches()).toBe(2);
    clock.now += MINUTE + 1;
    await keys.down(false);
    expect(await keyring.keyFor(signer.identifier)).not.toBeNull();
    expect(await keys.fetches()).toBe(3);
    clock.now += 10 * MINUTE;
    expect(await keyring.keyFor(signer.identifier)).not.toBeNull();
    expect(await keys.fetches()).toBe(3);
  });

  it("ignores entries that are not P-256 public keys and refuses a document of another shape", async () => {
    const keys = keysEndpoint();
    const signer = await newGithubSigner();
    await keys.publish(signer);
    const res = await fetch(keys.url, {
      method: "PUT",
      body: JSON.stringify({ document: { public_keys: [{ key_identifier: "junk", key: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", is_current: false }, { key_identifier: signer.identifier, key: signer.pem, is_current: true }] } }),
    });
    expect(res.ok).toBe(true);
    const keyring = new GithubKeyring(keys.url);
    expect(await keyring.keyFor(signer.identifier)).not.toBeNull();
    const other = keysEndpoint();
    await fetch(other.url, { method: "PUT", body: JSON.stringify({ document: { keys: "nope" } }) });
    await expect(new GithubKeyring(other.url).keyFor("x")).rejects.toMatchObject({ code: "signing_keys_unavailable" });
  });
});
