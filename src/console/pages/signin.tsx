import type { FC } from "hono/jsx";
import { CONSOLE_PREFIX, CsrfField, Layout, Notice, type PageContext } from "../layout";

export const SignInPage: FC<{ page: PageContext; message?: string | null; notice?: string | null; disabled?: string | null }> = ({ page, message, notice, disabled }) => (
  <Layout title="Sign in" page={page}>
    <Notice text={notice} />
    {message ? (
      <div class="alert error" role="alert" id="signin-error">
        {message}
      </div>
    ) : null}
    {disabled ? (
      <div class="alert error" role="alert">
        {disabled}
      </div>
    ) : (
      <form method="post" action={`${CONSOLE_PREFIX}/sign-in`} class="card narrow" autocomplete="off">
        <CsrfField token={page.csrf} />
        <p>
          Use the operator token (<span class="code">ADMIN_TOKEN</span>) to manage every org, or an org API key holding <span class="code">admin</span> (or{" "}
          <span class="code">keys:read</span> for a read-only view).
        </p>
        <label for="credential">Operator token or API key</label>
        <input id="credential" name="credential" type="password" required maxlength={512} autocomplete="off" spellcheck={false} aria-describedby={message ? "signin-error" : undefined} />
        <button type="submit">Sign in</button>
      </form>
    )}
  </Layout>
);
