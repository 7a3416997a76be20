import { and, asc, count, desc, eq, type SQL, sql } from "drizzle-orm";
import { containsText, type Db, offsetOf, type Page } from "./conditional";
import { orgs } from "./schema";

export type OrgRow = typeof orgs.$inferSelect;
export type OrgSort = "created_at" | "name" | "tier";

export interface OrgFilters {
  name?: string;
  tier?: string;
}

/** Names sort case-insensitively, as a person reading the list expects. */
const SORT_COLUMNS = { created_at: orgs.createdAt, name: sql`${orgs.name} collate nocase`, tier: orgs.tier } as const;

export function insertOrg(db: Db, row: OrgRow) {
  return db.insert(orgs).values(row);
}

export async function findOrg(db: Db, id: string): Promise<OrgRow | null> {
  const rows = await db.select().from(orgs).where(eq(orgs.id, id)).limit(1);
  return rows[0] ?? null;
}

export function updateOrg(db: Db, id: string, changes: Partial<Pick<OrgRow, "name" | "tier" | "maxActiveKeys">>, now: number) {
  return db
    .update(orgs)
    .set({ ...changes, updatedAt: now })
    .where(eq(orgs.id, id));
}

export async function listOrgs(db: Db, filters: OrgFilters, sort: { by: OrgSort; descending: boolean }, page: Page) {
  const where = and(
    filters.name === undefined ? undefined : containsText(orgs.name, filters.name),
    filters.tier === undefined ? undefined : eq(orgs.tier, filters.tier),
  );
  const order: SQL[] = [sort.descending ? desc(SORT_COLUMNS[sort.by]) : asc(SORT_COLUMNS[sort.by]), asc(orgs.id)];
  const [rows, totals] = await db.batch([
    db.select().from(orgs).where(where).orderBy(...order).limit(page.perPage).offset(offsetOf(page)),
    db.select({ total: count() }).from(orgs).where(where),
  ]);
  return { rows, total: totals[0]?.total ?? 0 };
}
