import { KeygateError } from "../errors";

/**
 * SPEC §9: the gateway normalises the request path once, and both the route policy and the origin
 * see that one path. Before this, the policy compared a collapsed spelling while the origin received
 * the raw one, so `GET //demo/internal/secret` matched `/demo/*` while the origin's URL parser read
 * host `demo`, path `/internal/secret`.
 *
 * Input is `URL.pathname` from the WHATWG parser: it always starts with `/`, dot segments (also
 * `%2e` spellings) are resolved, `\` became `/` and non-ASCII is percent-encoded. On top of that:
 * - percent-encoded unreserved characters (RFC 3986 §2.3) are decoded, other escapes upper-cased,
 *   so `/%61dmin` and `/admin` are one path for the policy and the origin alike;
 * - runs of `/` inside the path collapse to one;
 * - one trailing `/` is kept (origins may tell `/x/` from `/x`; the policy matches both alike).
 *
 * Refused with 400 `invalid_path`, because no single reading is safe to forward:
 * - a leading `//`, which a URL parser at the origin reads as a host;
 * - an encoded `/` (`%2F`) or `\` (`%5C`): the policy sees one segment, many origins decode it into two;
 * - encoded control characters (NUL and the rest of C0, DEL): origins truncate or choke on them;
 * - a `%` not followed by two hex digits: origins decode it differently or fail;
 * - a `.` or `..` segment left after decoding: the origin would resolve it again, possibly above the root;
 * - a `.` or `..` segment with path parameters (`..;`, `.;x`): Tomcat, Jetty and Spring drop the
 *   `;…` part of each segment and then resolve the dot segment, so `/demo/x/..;/internal` matched
 *   `/demo/*` here and was served as `/internal` there.
 */
export function canonicalPath(pathname: string): string {
  if (pathname.startsWith("//")) throw invalidPath("the path must not start with //");
  let path = pathname;
  // The common path has neither trigger character and costs two scans.
  if (path.includes("%")) path = decodeUnreserved(path);
  if (path.includes("//")) path = path.replace(/\/{2,}/g, "/");
  if (path.includes(";") && DOT_SEGMENT_WITH_PARAMETERS.test(path)) throw invalidPath("a . or .. segment with parameters (such as ..;) is not allowed in the path");
  return path;
}

const DOT_SEGMENT_WITH_PARAMETERS = /(?:^|\/)\.\.?;/;

/**
 * The path as servers that honour path parameters (Tomcat, Jetty, Spring, JAX-RS matrix params) route
 * it: each segment without its `;…` part. `/admin;x/users` is `/admin/users` to them.
 */
export function withoutPathParameters(path: string): string {
  return path.replace(/;[^/]*/g, "");
}

const ESCAPE = /%([0-9A-Fa-f]{2})|%/g;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

function decodeUnreserved(pathname: string): string {
  let decodedDot = false;
  const path = pathname.replace(ESCAPE, (escape, hex: string | undefined) => {
    if (hex === undefined) throw invalidPath("a % in the path must start a %XX escape");
    const code = parseInt(hex, 16);
    if (code === 0x2f || code === 0x5c) throw invalidPath("an encoded / or \\ (%2F, %5C) is not allowed in the path");
    if (code < 0x20 || code === 0x7f) throw invalidPath("encoded control characters are not allowed in the path");
    const char = String.fromCharCode(code);
    if (!UNRESERVED.test(char)) return escape.toUpperCase();
    if (char === ".") decodedDot = true;
    return char;
  });
  if (decodedDot && /(?:^|\/)\.\.?(?:\/|$)/.test(path)) throw invalidPath("the path must not contain . or .. segments");
  return path;
}

function invalidPath(message: string): KeygateError {
  return new KeygateError("invalid_path", message);
}
