import { z } from "zod";
import { KeygateError } from "../errors";
import { importPublicKeyPem } from "./ecdsa";

/** GitHub's `/meta/public_keys/secret_scanning` document. */
const KeysDocument = z.object({
  public_keys: z
    .array(z.object({ key_identifier: z.string().min(1).max(256), key: z.string().min(1).max(4096), is_current: z.boolean().optional() }))
    .max(100),
});

/** A fetched document is trusted this long; GitHub rotates rarely and announces new keys in it first. */
const DOCUMENT_TTL_MS = 3_600_000;
/**
 * Refetches caused by an identifier we do not know: at most one per minute per isolate. Anyone can
 * send a made-up identifier, and api.github.com allows an unauthenticated client 60 requests an hour:
 * without this bound a stream of fake reports would spend that budget and starve real ones.
 */
const UNKNOWN_REFETCH_INTERVAL_MS = 60_000;
/**
 * After a failed refresh of an expired document, the old keys serve this long before GitHub is tried
 * again: otherwise, while GitHub is down or limiting us, every report (and anyone sending GitHub's
 * identifier) would wait for a fetch that fails, up to FETCH_TIMEOUT_MS of GitHub's 10 s budget.
 */
const RETRY_AFTER_FAILURE_MS = 60_000;
const FETCH_TIMEOUT_MS = 5_000;

interface KeySet {
  keys: Map<string, CryptoKey>;
  fetchedAt: number;
}

function unavailable(detail: string): KeygateError {
  return new KeygateError("signing_keys_unavailable", `GitHub's secret scanning public keys could not be loaded (${detail}); try again later`);
}

/**
 * The verification keys from GITHUB_SECRET_SCANNING_KEYS_URL, cached per isolate: fetched on first
 * use and after DOCUMENT_TTL_MS, and once more when a report names an identifier the cached document
 * lacks (GitHub rotated). Concurrent callers share one fetch.
 */
export class GithubKeyring {
  #set: KeySet | null = null;
  #inFlight: Promise<KeySet> | null = null;
  #lastUnknownRefetch = Number.NEGATIVE_INFINITY;
  /** Until then the (expired) keys we have serve without a fetch: the last one failed. */
  #failedUntil = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly url: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** The key for `identifier`, or null if GitHub does not list it; throws 503 when the keys cannot be had. */
  async keyFor(identifier: string): Promise<CryptoKey | null> {
    let set = this.#set;
    if (!set || (this.now() - set.fetchedAt > DOCUMENT_TTL_MS && this.now() >= this.#failedUntil)) {
      // An expired document still serves while GitHub is unreachable: its keys were GitHub's an hour ago.
      set = await this.#refresh().catch((err: unknown) => {
        if (!this.#set) throw err;
        this.#failedUntil = this.now() + RETRY_AFTER_FAILURE_MS;
        return this.#set;
      });
    }
    const known = set.keys.get(identifier);
    if (known) return known;
    if (this.#inFlight) return (await this.#inFlight).keys.get(identifier) ?? null;
    // GitHub may have rotated while it was unreachable: unverifiable, so 503 (GitHub retries), not 401.
    if (this.now() < this.#failedUntil) throw unavailable("the last fetch failed");
    if (this.now() - this.#lastUnknownRefetch < UNKNOWN_REFETCH_INTERVAL_MS) return null;
    this.#lastUnknownRefetch = this.now();
    return (await this.#refresh()).keys.get(identifier) ?? null;
  }

  #refresh(): Promise<KeySet> {
    this.#inFlight ??= this.#fetch().finally(() => {
      this.#inFlight = null;
    });
    return this.#inFlight;
  }

  async #fetch(): Promise<KeySet> {
    let res: Response;
    try {
      // GitHub's API refuses requests without a User-Agent.
      res = await fetch(this.url, { headers: { accept: "application/json", "user-agent": "keygate" }, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    } catch (err) {
      throw unavailable(err instanceof Error ? err.name : "fetch failed");
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw unavailable(`HTTP ${res.status}`);
    }
    const parsed = KeysDocument.safeParse(await res.json().catch(() => null));
    if (!parsed.success) throw unavailable("unexpected document");
    const keys = new Map<string, CryptoKey>();
    for (const entry of parsed.data.public_keys) {
      try {
        keys.set(entry.key_identifier, await importPublicKeyPem(entry.key));
      } catch {
        console.warn(`keygate: skipping GitHub public key ${entry.key_identifier}: not a P-256 SPKI key`);
      }
    }
    const set = { keys, fetchedAt: this.now() };
    this.#set = set;
    return set;
  }
}

/** One keyring per keys URL for the isolate's lifetime (the URL only changes with a redeploy). */
const keyrings = new Map<string, GithubKeyring>();

export function githubKeyring(url: string): GithubKeyring {
  let keyring = keyrings.get(url);
  if (!keyring) {
    keyring = new GithubKeyring(url);
    keyrings.set(url, keyring);
  }
  return keyring;
}
