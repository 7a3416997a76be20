import type { FC } from "hono/jsx";
import type { ErrorCode } from "../../errors";
import { CONSOLE_PREFIX, Layout, type PageContext } from "../layout";

/** What a person is told, by error code: a plain-language heading and what to do next. Never the exception itself. */
export const ERROR_PAGE_TEXT: Partial<Record<ErrorCode, { title: string; message: string }>> = {
  not_found: {
    title: "Page not found",
    message: "There is no console page at this address. It may have been mistyped, or a link pointed to something that does not exist.",
  },
  payload_too_large: {
    title: "The form is too large",
    message: "The form sent more than 64 KiB, more than any console form needs. Go back, shorten what you entered and send it again.",
  },
  gateway_misconfigured: {
    title: "The gateway is misconfigured",
    message: "The console cannot work until the gateway's configuration is fixed. The operator's log names the problem, and so does npm run check-config.",
  },
  internal_error: {
    title: "Something went wrong",
    message: "The console could not answer this request. Try again in a moment; if it keeps happening, the operator's log has the details.",
  },
};

const FALLBACK = ERROR_PAGE_TEXT.internal_error!;

/** An error as a page in the console's own look: the heading, what happened in plain words, the code, a way back. */
export const ErrorPage: FC<{ page: PageContext; code: ErrorCode }> = ({ page, code }) => {
  const text = ERROR_PAGE_TEXT[code] ?? FALLBACK;
  return (
    <Layout title={text.title} page={page}>
      <div class="alert error" role="alert">
        <p>
          {text.message} <span class="code">({code})</span>
        </p>
      </div>
      <p>
        <a href={CONSOLE_PREFIX}>Back to the console</a>
      </p>
    </Layout>
  );
};
