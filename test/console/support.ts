// Helpers for the console's HTTP tests inside workerd: a cookie jar, the form's CSRF token, signing in.
import { gatewayFetch } from "../harness";

export const CONSOLE = "/_keygate/console";

/** Cookie header from Set-Cookie lines (name=value only). */
export function cookiesOf(res: Response, jar: Record<string, string> = {}): Record<string, string> {
  for (const line of res.headers.getSetCookie()) {
    const [pair] = line.split(";");
    const [name, ...value] = pair!.split("=");
    jar[name!.trim()] = value.join("=");
  }
  return jar;
}
export const cookieHeader = (jar: Record<string, string>) => Object.entries(jar).filter(([, v]) => v !== "").map(([k, v]) => `${k}=${v}`).join("; ");
export const csrfIn = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? "";

export function form(path: string, jar: Record<string, string>, fields: Record<string, string | string[]>, headers: Record<string, string> = {}) {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) for (const one of [value].flat()) body.append(name, one);
  return gatewayFetch(CONSOLE + path, {
    method: "POST",
    redirect: "manual",
    headers: { cookie: cookieHeader(jar), "content-type": "application/x-www-form-urlencoded", ...headers },
    body: body.toString(),
  });
}

export async function signIn(credential: string, headers: Record<string, string> = {}): Promise<{ res: Response; jar: Record<string, string> }> {
  const page = await gatewayFetch(`${CONSOLE}/sign-in`);
  const jar = cookiesOf(page);
  const res = await form("/sign-in", jar, { _csrf: csrfIn(await page.text()), credential }, headers);
  return { res, jar: cookiesOf(res, jar) };
}

export async function page(path: string, jar: Record<string, string>) {
  return gatewayFetch(CONSOLE + path, { redirect: "manual", headers: { cookie: cookieHeader(jar) } });
}
