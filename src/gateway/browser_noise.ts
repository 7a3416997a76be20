/**
 * Requests a browser makes on its own when someone opens a gateway URL: the tab icon, the home-screen icon,
 * Chrome DevTools' probe. Without a credential they still answer 401 missing_credentials, but they are not
 * recorded as failed authentications: nobody tried to authenticate, and they would bury real failures.
 * A request that does carry a (bad) credential to these paths is recorded like any other.
 */
const BROWSER_NOISE = /^\/(?:favicon\.ico|apple-touch-icon(?:-precomposed)?(?:-\d+x\d+)?\.png|robots\.txt|\.well-known\/appspecific\/[^/]+)$/;

export function isBrowserNoise(pathname: string): boolean {
  return BROWSER_NOISE.test(pathname);
}
