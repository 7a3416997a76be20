// The `keygate/origin` package export (package.json "exports"): verify X-Keygate-Signature v2 in an
// origin. See README "Origin signing" for Hono, Workers and plain Node examples.
export { type NodeIncomingMessage, type VerifyNodeOptions, verifyIncomingMessage } from "./node.ts";
export { memoryReplayCache, type MemoryReplayCacheOptions, type ReplayCache } from "./replay_cache.ts";
export {
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_TOLERANCE_SECONDS,
  type KeygateIdentity,
  KeygateSignatureError,
  type KeygateSignatureErrorCode,
  type VerifyKeygateOptions,
  verifyKeygateRequest,
} from "./verify.ts";
