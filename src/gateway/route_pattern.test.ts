import { describe, expect, it } from "vitest";
import { routePatternProblem } from "./route_pattern";

describe("pattern validation", () => {
  it("accepts literals, :params and a trailing *", () => {
    for (const path of ["/", "/a", "/a/:id", "/a/:id/b/*", "/*", "/v1.0/items"]) expect(routePatternProblem(path)).toBeNull();
  });

  it("rejects * before the last segment, * inside a segment, bad :param names, queries", () => {
    expect(routePatternProblem("/a/*/b")).toMatch(/last segment/);
    expect(routePatternProblem("/files/*.json")).toMatch(/whole segment/);
    expect(routePatternProblem("/a/:1x")).toMatch(/param/);
    expect(routePatternProblem("/a?b=1")).toMatch(/query/);
    expect(routePatternProblem("a")).toMatch(/start with/);
  });
});
