// A JSON Schema check of answers against the OpenAPI document the worker serves, shared by the
// conformance test (openapi.responses.test.ts) and the fuzzing (fuzz.security.test.ts).

export type Schema = Record<string, unknown>;
export interface OpenApiDocument {
  paths: Record<string, Record<string, { responses: Record<string, { headers?: Record<string, { schema: Schema }>; content?: Record<string, { schema: Schema }> }> }>>;
  components: { schemas: Record<string, Schema> };
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function resolve(doc: OpenApiDocument, input: Schema): Schema {
  let schema = input;
  while (typeof schema.$ref === "string") schema = doc.components.schemas[schema.$ref.split("/").pop()!]!;
  if (!Array.isArray(schema.allOf)) return schema;
  // allOf of objects (CreatedKey = Key + key): one object with every part's properties and requirements.
  const { allOf, ...rest } = schema;
  const parts = (allOf as Schema[]).map((part) => resolve(doc, part));
  return {
    ...Object.assign({}, ...parts),
    ...rest,
    properties: Object.assign({}, ...parts.map((part) => part.properties ?? {}), rest.properties ?? {}),
    required: parts.flatMap((part) => (part.required as string[] | undefined) ?? []).concat((rest.required as string[] | undefined) ?? []),
  };
}

/**
 * The JSON Schema subset the document uses (OpenAPI 3.1). Hand-written because the test runs in workerd,
 * which refuses the code generation (`new Function`) that Ajv compiles schemas with. Stricter than JSON
 * Schema in one way: a property the document does not name is a mismatch (the document is the contract).
 */
export function problems(doc: OpenApiDocument, value: unknown, input: Schema, at: string): string[] {
  const schema = resolve(doc, input);
  const out: string[] = [];
  for (const key of ["anyOf", "oneOf"] as const) {
    if (Array.isArray(schema[key])) {
      const fits = (schema[key] as Schema[]).filter((option) => problems(doc, value, option, at).length === 0).length;
      if (key === "anyOf" ? fits === 0 : fits !== 1) out.push(`${at}: matches ${fits} of the ${key} options: ${JSON.stringify(value)?.slice(0, 120)}`);
    }
  }
  if ("const" in schema && value !== schema.const) out.push(`${at}: is not ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) out.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  const types = ([] as string[]).concat((schema.type as string | string[] | undefined) ?? []);
  if (schema.nullable === true) types.push("null");
  if (types.length > 0) {
    const actual = value === null ? "null" : Array.isArray(value) ? "array" : typeof value === "number" && Number.isInteger(value) ? "integer" : typeof value;
    if (!types.includes(actual) && !(actual === "integer" && types.includes("number"))) return [...out, `${at}: is ${actual}, the document says ${types.join("|")}`];
  }
  if (typeof value === "string") {
    if (typeof schema.maxLength === "number" && [...value].length > schema.maxLength) out.push(`${at}: longer than ${schema.maxLength}`);
    if (typeof schema.minLength === "number" && [...value].length < schema.minLength) out.push(`${at}: shorter than ${schema.minLength}`);
    if (typeof schema.pattern === "string" && !new RegExp(schema.pattern, "u").test(value)) out.push(`${at}: ${JSON.stringify(value)} does not match ${schema.pattern}`);
    if (schema.format === "date-time" && !RFC3339.test(value)) out.push(`${at}: ${JSON.stringify(value)} is not an RFC 3339 date-time`);
  }
  if (typeof value === "number") {
    if (typeof schema.maximum === "number" && value > schema.maximum) out.push(`${at}: ${value} > maximum ${schema.maximum}`);
    if (typeof schema.minimum === "number" && value < schema.minimum) out.push(`${at}: ${value} < minimum ${schema.minimum}`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.maxItems === "number" && value.length > schema.maxItems) out.push(`${at}: more than ${schema.maxItems} items`);
    if (typeof schema.minItems === "number" && value.length < schema.minItems) out.push(`${at}: fewer than ${schema.minItems} items`);
    if (schema.items) value.forEach((item, i) => out.push(...problems(doc, item, schema.items as Schema, `${at}[${i}]`)));
  }
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const name of (schema.required as string[] | undefined) ?? []) if (!(name in value)) out.push(`${at}.${name}: required, missing`);
    for (const [name, child] of Object.entries(value)) {
      if (properties[name]) out.push(...problems(doc, child, properties[name]!, `${at}.${name}`));
      else if (schema.additionalProperties && typeof schema.additionalProperties === "object") out.push(...problems(doc, child, schema.additionalProperties as Schema, `${at}.${name}`));
      else if (schema.additionalProperties !== true && (schema.additionalProperties === false || Object.keys(properties).length > 0)) out.push(`${at}.${name}: not in the document`);
    }
  }
  return out;
}

