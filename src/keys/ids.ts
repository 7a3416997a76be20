import { randomBase62 } from "./base62";

/** Public ids: a type prefix and 20 random base62 characters (~119 bits), e.g. `key_3f…`. */
export function newId(kind: "org" | "key" | "evt"): string {
  return `${kind}_${randomBase62(20)}`;
}
