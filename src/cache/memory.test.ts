import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { MemoryLru } from "./memory";

describe("MemoryLru", () => {
  it("returns what was set until its TTL passes, then forgets it", () => {
    const lru = new MemoryLru<string>(10);
    lru.set("a", "A", 1000, 0);
    expect(lru.get("a", 999)).toBe("A");
    expect(lru.get("a", 1000)).toBeUndefined();
    expect(lru.size).toBe(0);
  });

  it("keeps a cached null (a negative entry) distinct from a miss", () => {
    const lru = new MemoryLru<string | null>(10);
    lru.set("unknown", null, 1000, 0);
    expect(lru.get("unknown", 1)).toBeNull();
    expect(lru.get("never-set", 1)).toBeUndefined();
  });

  it("evicts the least recently used entry when full; a hit counts as a use", () => {
    const lru = new MemoryLru<number>(3);
    lru.set("a", 1, 1000, 0);
    lru.set("b", 2, 1000, 0);
    lru.set("c", 3, 1000, 0);
    expect(lru.get("a", 1)).toBe(1);
    lru.set("d", 4, 1000, 1);
    expect(lru.get("b", 2)).toBeUndefined();
    expect(lru.get("a", 2)).toBe(1);
    expect(lru.get("c", 2)).toBe(3);
    expect(lru.get("d", 2)).toBe(4);
    expect(lru.size).toBe(3);
  });

  it("never grows past its bound", () => {
    const lru = new MemoryLru<number>(100);
    for (let i = 0; i < 1000; i++) lru.set(`k${i}`, i, 1000, 0);
    expect(lru.size).toBe(100);
    expect(lru.get("k999", 1)).toBe(999);
    expect(lru.get("k0", 1)).toBeUndefined();
  });

  it("delete and clear drop entries", () => {
    const lru = new MemoryLru<number>(10);
    lru.set("a", 1, 1000, 0);
    lru.set("b", 2, 1000, 0);
    lru.delete("a");
    expect(lru.get("a", 1)).toBeUndefined();
    lru.clear();
    expect(lru.size).toBe(0);
  });

  it("a hit on the most recently used key needs no reordering and keeps the order exact", () => {
    const lru = new MemoryLru<number>(3);
    lru.set("a", 1, 1000, 0);
    lru.set("b", 2, 1000, 0);
    lru.set("c", 3, 1000, 0);
    expect(lru.get("c", 1)).toBe(3);
    expect(lru.get("c", 1)).toBe(3);
    expect(lru.get("a", 1)).toBe(1);
    expect(lru.get("a", 1)).toBe(1);
    lru.set("d", 4, 1000, 1); // b is the least recently used
    expect(lru.get("b", 2)).toBeUndefined();
    lru.delete("d");
    lru.set("e", 5, 1000, 2);
    lru.set("f", 6, 1000, 2); // c is now the least recently used
    expect(lru.get("c", 3)).toBeUndefined();
    expect([lru.get("a", 3), lru.get("e", 3), lru.get("f", 3)]).toEqual([1, 5, 6]);
  });

  it("evicts exactly what a reference LRU evicts, over generated operations", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom("get", "set", "delete"), fc.constantFrom("a", "b", "c", "d", "e")), { maxLength: 200 }), (ops) => {
        const lru = new MemoryLru<number>(3);
        const reference: string[] = []; // least recently used first
        ops.forEach(([op, key], i) => {
          const at = reference.indexOf(key);
          if (op === "get") {
            expect(lru.get(key, 0) !== undefined).toBe(at >= 0);
            if (at >= 0) reference.push(...reference.splice(at, 1));
          } else if (op === "set") {
            lru.set(key, i, 1000, 0);
            if (at >= 0) reference.splice(at, 1);
            reference.push(key);
            if (reference.length > 3) reference.shift();
          } else {
            lru.delete(key);
            if (at >= 0) reference.splice(at, 1);
          }
        });
        expect(lru.size).toBe(reference.length);
        for (const key of ["a", "b", "c", "d", "e"]) expect(lru.get(key, 0) !== undefined).toBe(reference.includes(key));
      }),
    );
  });
});
