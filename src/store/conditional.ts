import { getTableColumns, type SQL, sql } from "drizzle-orm";
import type { DrizzleD1Database } from "drizzle-orm/d1";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";

export type Db = DrizzleD1Database;

/**
 * `INSERT INTO t (...) SELECT <row> WHERE <condition>`: inserts the row only if the condition
 * holds at the moment the statement runs. Inside a D1 batch (one transaction) this is how a
 * check and a write become one step, e.g. "create the key only while the org is under its limit",
 * so two concurrent requests cannot both pass the check. `meta.changes` tells whether it happened.
 */
export function insertWhere<T extends SQLiteTable>(db: Db, table: T, row: T["$inferInsert"], condition: SQL) {
  const values = Object.entries(getTableColumns(table)).map(([name, column]) => {
    const value = (row as Record<string, unknown>)[name];
    if (value === undefined) return column.default === undefined ? sql`null` : sql.param(column.default, column);
    return sql.param(value, column);
  });
  return db.insert(table).select(sql`select ${sql.join(values, sql`, `)} where ${condition}`);
}

/** Rows changed by a `run` statement in a batch result (D1's `meta.changes`). */
export function changedRows(result: unknown): number {
  return (result as { meta?: { changes?: number } }).meta?.changes ?? 0;
}

/**
 * A case-insensitive (ASCII, as SQLite's LIKE) substring match of `column` against user text, matched literally.
 * Not LIKE: D1 caps a LIKE pattern at 50 bytes, so a `name` filter of 49+ characters (names may have 100), or a
 * shorter one whose `%`/`_` needed escaping, failed with "LIKE or GLOB pattern too complex": a 500.
 */
export function containsText(column: SQLiteColumn, text: string): SQL {
  return sql`instr(lower(${column}), lower(${text})) > 0`;
}

/** Shared list paging: 1-based page, bounded page size. */
export interface Page {
  page: number;
  perPage: number;
}

export const offsetOf = ({ page, perPage }: Page) => (page - 1) * perPage;
