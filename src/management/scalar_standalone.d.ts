// wrangler.toml's [[rules]] (type "Text") makes this import the bundle's source text, not a module.
declare module "*/@scalar/api-reference/dist/browser/standalone.js" {
  const source: string;
  export default source;
}
