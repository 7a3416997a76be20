// GitHub's side of the secret scanning partner protocol, for the tests: a P-256 key pair made here
// with WebCrypto, published on the loopback keys endpoint (test/node/leak-fixtures.ts) in GitHub's
// format, and reports signed the way GitHub signs them (base64 DER ECDSA over the raw body).
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { handleRequest } from "../../src/app";
import type { Env } from "../../src/env";

export const SCANNING_PATH = "/_keygate/v1/secret-scanning/github";

export interface GithubSigner {
  identifier: string;
  privateKey: CryptoKey;
  pem: string;
}

const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

export async function newGithubSigner(): Promise<GithubSigner> {
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const spki = new Uint8Array((await crypto.subtle.exportKey("spki", pair.publicKey)) as ArrayBuffer);
  const lines = base64(spki).match(/.{1,64}/g)!.join("\n");
  return { identifier: hex(crypto.getRandomValues(new Uint8Array(32))), privateKey: pair.privateKey, pem: `-----BEGIN PUBLIC KEY-----\n${lines}\n-----END PUBLIC KEY-----\n` };
}

/** DER INTEGER of an unsigned big-endian number: leading zeros dropped, one 0x00 if the top bit is set. */
function derInteger(bytes: Uint8Array): number[] {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const body = [...bytes.subarray(start)];
  if (body[0]! & 0x80) body.unshift(0);
  return [0x02, body.length, ...body];
}

/** What GitHub sends in Github-Public-Key-Signature for `body`. */
export async function githubSignature(signer: GithubSigner, body: string): Promise<string> {
  const raw = new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, signer.privateKey, new TextEncoder().encode(body)));
  const sequence = [...derInteger(raw.subarray(0, 32)), ...derInteger(raw.subarray(32))];
  return base64(new Uint8Array([0x30, sequence.length, ...sequence]));
}

/** A keys endpoint of its own for one test: `url` goes into GITHUB_SECRET_SCANNING_KEYS_URL. */
export function keysEndpoint() {
  const ns = `t${crypto.randomUUID().replaceAll("-", "")}`;
  const base = `${env.TEST_LEAK_FIXTURES_URL}/github/${ns}`;
  const put = async (change: unknown) => {
    const res = await fetch(`${base}/keys`, { method: "PUT", body: JSON.stringify(change) });
    if (!res.ok) throw new Error(`fixture: ${res.status}`);
  };
  return {
    url: `${base}/keys`,
    publish: (...signers: GithubSigner[]) =>
      put({ document: { public_keys: signers.map((s, i) => ({ key_identifier: s.identifier, key: s.pem, is_current: i === signers.length - 1 })) } }),
    down: (down: boolean) => put({ down }),
    fetches: async () => ((await (await fetch(`${base}/stats`)).json()) as { fetches: number }).fetches,
  };
}

export interface Leak {
  token: string;
  type?: string;
  url?: string;
  source?: string;
}

export const leakItems = (leaks: Leak[]) =>
  leaks.map((l) => ({ token: l.token, type: l.type ?? "keygate_api_key", url: l.url ?? "https://github.com/octo/demo/blob/0123abc/.env", source: l.source ?? "content" }));

/**
 * The worker with some vars changed (its own keys URL, LEAKED_KEY_ACTION); reuse one variant for the
 * report and the gateway calls after it so they share the isolate's caches, as one deployment would.
 */
export function workerWith(overrides: Partial<Env>) {
  const variant: Env = { ...env, ...overrides };
  const send = async (request: Request) => {
    const ctx = createExecutionContext();
    const res = await handleRequest(request, variant, ctx);
    await waitOnExecutionContext(ctx);
    return res;
  };
  return {
    /** POST a report; `signer` null sends it unsigned, `sign` lets a test sign something else than it sends. */
    async report(body: string, signer: GithubSigner | null, options: { sign?: string; headers?: Record<string, string> } = {}) {
      const headers = new Headers({ "content-type": "application/json", ...options.headers });
      if (signer) {
        headers.set("github-public-key-identifier", signer.identifier);
        headers.set("github-public-key-signature", await githubSignature(signer, options.sign ?? body));
      }
      return send(new Request(`http://gw.test${SCANNING_PATH}`, { method: "POST", headers, body }));
    },
    gateway: (key: string) => send(new Request("http://gw.test/demo/items", { headers: { authorization: `Bearer ${key}` } })),
  };
}
