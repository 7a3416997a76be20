// What people read: aligned columns like `kubectl get` and `wrangler`, no borders. Hand-written
// because it is a dozen lines of padEnd; colour comes from node:util's styleText, which drops it
// by itself when the stream is not a terminal or NO_COLOR is set.
import { styleText } from "node:util";

export interface Column<T> {
  header: string;
  value(row: T): unknown;
  /** Colour for this cell (terminals only). */
  style?(row: T): Parameters<typeof styleText>[0] | undefined;
}

type Stream = NodeJS.WriteStream;

/**
 * Control characters (C0, DEL, C1) and bidirectional overrides, which a terminal obeys rather than shows: an org
 * key holder names a key "\x1b[2J…" or puts an OSC 52 sequence in meta, and the operator's `keys list` clears
 * the screen, rewrites lines or writes their clipboard. They are printed as visible \uXXXX escapes instead.
 */
const UNSAFE_TEXT = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Text from the API as a terminal can show it safely (see UNSAFE_TEXT). */
export function printable(text: string): string {
  return text.replace(UNSAFE_TEXT, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * `--json` output: JSON.stringify escapes C0 controls itself but leaves C1 and bidi characters raw. They can only
 * stand inside JSON strings, so escaping them keeps the JSON valid and equal.
 */
export function printableJson(value: unknown): string {
  // Not UNSAFE_TEXT: raw C0 characters in the output are the indentation's own line breaks.
  return JSON.stringify(value, null, 2).replace(/[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Cell text: "-" for nothing, ISO instants without milliseconds, lists comma-joined, objects as JSON. */
export function cell(value: unknown): string {
  if (value === null || value === undefined || value === "") return "-";
  if (Array.isArray(value)) return value.length === 0 ? "-" : value.map(cell).join(",");
  if (typeof value === "object") return printable(JSON.stringify(value));
  const text = printable(String(value));
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(text) ? text.replace(/\.\d{3}Z$/, "Z") : text;
}

function paint(stream: Stream, format: Parameters<typeof styleText>[0] | undefined, text: string): string {
  return format ? styleText(format, text, { stream }) : text;
}

export function table<T>(rows: readonly T[], columns: readonly Column<T>[], stream: Stream): string {
  const cells = rows.map((row) => columns.map((column) => cell(column.value(row))));
  const widths = columns.map((column, i) => Math.max(column.header.length, ...cells.map((line) => line[i]!.length)));
  const pad = (text: string, i: number) => (i === columns.length - 1 ? text : text.padEnd(widths[i]!));
  const header = columns.map((column, i) => paint(stream, "bold", pad(column.header, i))).join("  ");
  // Padding is computed on the plain text; colour codes wrap the padded cell so columns stay aligned.
  const lines = rows.map((row, r) => columns.map((column, i) => paint(stream, column.style?.(row), pad(cells[r]![i]!, i))).join("  "));
  return [header, ...lines].map((line) => line.trimEnd()).join("\n");
}

/** One resource as `field  value` lines, nested objects flattened to `a.b`. */
export function record(value: Record<string, unknown>, stream: Stream, styles: Record<string, Parameters<typeof styleText>[0] | undefined> = {}): string {
  // Field names too: nested meta keys are the API caller's text.
  const pairs = flatten(value).map(([name, v]): [string, unknown] => [printable(name), v]);
  const width = Math.max(0, ...pairs.map(([name]) => name.length));
  return pairs.map(([name, v]) => `${paint(stream, "bold", name.padEnd(width))}  ${paint(stream, styles[name], cell(v))}`).join("\n");
}

function flatten(value: Record<string, unknown>, prefix = ""): Array<[string, unknown]> {
  return Object.entries(value).flatMap(([name, v]): Array<[string, unknown]> => {
    const path = prefix + name;
    if (v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length > 0) return flatten(v as Record<string, unknown>, `${path}.`);
    return [[path, v]];
  });
}

const isRecord = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object" && !Array.isArray(value);
const isTable = (value: unknown): value is Record<string, unknown>[] => Array.isArray(value) && value.length > 0 && value.every(isRecord);

/**
 * Any response shape: a list of objects as a table (columns from their fields), an object as
 * `field  value` lines with each list of objects in it as a titled table below. For responses
 * whose shape the CLI does not know in advance (usage, limits).
 */
export function generic(data: unknown, stream: Stream): string {
  if (isTable(data)) return autoTable(data, stream);
  if (!isRecord(data)) return Array.isArray(data) && data.length === 0 ? "(none)" : cell(data);
  const scalars: Record<string, unknown> = {};
  const sections: string[] = [];
  for (const [name, value] of Object.entries(data)) {
    if (isTable(value)) sections.push(`${paint(stream, "bold", name)}\n${autoTable(value, stream)}`);
    else if (Array.isArray(value) && value.length === 0) sections.push(`${paint(stream, "bold", name)}\n(none)`);
    else scalars[name] = value;
  }
  return [Object.keys(scalars).length > 0 ? record(scalars, stream) : "", ...sections].filter(Boolean).join("\n\n");
}

function autoTable(rows: Record<string, unknown>[], stream: Stream): string {
  const names = [...new Set(rows.flatMap((row) => flatten(row).map(([name]) => name)))];
  const flat = rows.map((row) => Object.fromEntries(flatten(row)));
  return table(flat, names.map((name) => ({ header: printable(name.toUpperCase()), value: (row: Record<string, unknown>) => row[name] })), stream);
}
