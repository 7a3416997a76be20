import { z } from "zod";

/**
 * The `CORS` var (issue 14), validated by config.ts and `npm run check-config`: which browser
 * origins may call through the gateway. Origins are exact (`https://app.example.com`, as a browser
 * sends them: lowercase, no path) or a wildcard for the first label (`https://*.example.com`, any
 * subdomain depth, not the apex), or `"*"` (any origin, never with credentials).
 */

const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] as const;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;
export const WILDCARD_ORIGIN = /^(https?):\/\/\*\.([^*]+)$/;

/** An exact origin `scheme://host[:port]` as a browser sends it (lowercase host, no path), or null. */
function exactOrigin(text: string): string | null {
  if (!/^https?:\/\//.test(text)) return null;
  try {
    return new URL(text).origin === text ? text : null;
  } catch {
    return null;
  }
}

/** Why an entry of `CORS.origins` is unusable, or null. */
function originProblem(text: string): string | null {
  if (text === "*") return null;
  const wildcard = WILDCARD_ORIGIN.exec(text);
  if (wildcard) {
    if (!exactOrigin(`${wildcard[1]}://x.${wildcard[2]}`)) return `"${text}": after "*." must come a host name (and optional port), nothing else`;
    // `https://*.com` would admit every site under a top-level domain, anyone's; `*.localhost` is one machine.
    const host = wildcard[2]!.replace(/:\d+$/, "");
    if (!host.includes(".") && host !== "localhost") return `"${text}": a wildcard needs a domain of at least two labels under it (https://*.example.com), not a top-level domain that admits anyone's site`;
    return null;
  }
  if (text.includes("*")) return `"${text}": a wildcard may only be the first label of the host, as in https://*.example.com`;
  return exactOrigin(text) ? null : `"${text}" is not an origin: use scheme://host[:port], lowercase, without a path or trailing slash (e.g. https://app.example.com)`;
}

const headerList = z.array(z.string().regex(HEADER_NAME, "is not a header name")).max(50);

export const corsConfigSchema = z
  .strictObject({
    origins: z
      .array(z.string().max(253))
      .min(1)
      .max(100)
      .superRefine((origins, ctx) => {
        origins.forEach((origin, i) => {
          const problem = originProblem(origin);
          if (problem) ctx.addIssue({ code: "custom", path: [i], message: problem });
        });
      }),
    methods: z.array(z.enum(HTTP_METHODS)).min(1).optional(),
    headers: headerList.optional(),
    expose_headers: headerList.optional(),
    /** Seconds a browser may cache a preflight answer (browsers cap it: Chrome at 2 h). */
    max_age: z.number().int().min(0).max(86_400).default(600),
    credentials: z.boolean().default(false),
  })
  .superRefine((cors, ctx) => {
    // The Fetch standard refuses `Access-Control-Allow-Origin: *` with credentials; reflecting any origin
    // with credentials instead would let every site on the web call with the user's cookies.
    if (cors.credentials && cors.origins.includes("*")) ctx.addIssue({ code: "custom", path: ["credentials"], message: 'cannot be true when origins has "*"; list the origins' });
    // With credentials a browser reads "*" in these lists as a header literally named "*" (Fetch standard),
    // so the page could send or read none of the headers the operator meant to allow.
    for (const field of ["headers", "expose_headers"] as const) {
      const index = cors[field]?.indexOf("*") ?? -1;
      if (cors.credentials && index !== -1) ctx.addIssue({ code: "custom", path: [field, index], message: 'means a header named "*" when credentials is true (browsers do not read it as a wildcard then); list the headers' });
    }
  });

export type CorsConfig = z.infer<typeof corsConfigSchema>;
