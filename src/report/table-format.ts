/**
 * Tables as text: aligned columns for a terminal, GitHub Markdown, RFC 4180 CSV and HTML.
 * A column knows its raw value (CSV, JSON: full precision, units in the key) and how a person
 * reads it (terminal, Markdown, HTML: rounded, units in the title).
 */

/** A raw cell value. */
export type Cell = string | number | boolean | null;

/** One column of rows of type `R`. */
export interface Column<R> {
  /** Machine name with its unit, `p99_ms`: the CSV header. */
  readonly key: string;
  /** What a person reads in the header, `p99 ms`. */
  readonly title: string;
  readonly value: (row: R) => Cell;
  /** Human text of the value (default: the value as a string, `—` for null). */
  readonly text?: (row: R) => string;
  /** HTML of the cell for {@link htmlTable}, already escaped (default: the escaped text). */
  readonly html?: (row: R) => string;
  /** Default: right for numbers, left otherwise (decided by the first row). */
  readonly align?: 'left' | 'right';
}

/** Text output formats. */
export type TextFormat = 'table' | 'md' | 'csv';

/** `—` for null, else the value as text. */
export function plainText(v: Cell): string {
  return v === null ? '—' : String(v);
}

function textOf<R>(c: Column<R>, row: R): string {
  return c.text === undefined ? plainText(c.value(row)) : c.text(row);
}

function alignOf<R>(c: Column<R>, rows: readonly R[]): 'left' | 'right' {
  if (c.align !== undefined) return c.align;
  const first = rows[0];
  return first !== undefined && typeof c.value(first) === 'number' ? 'right' : 'left';
}

/**
 * RFC 4180 field: quoted when it holds a comma, quote or line break. A text cell starting with
 * `=`, `+`, `-`, `@`, tab or CR is prefixed with `'` so a spreadsheet shows it instead of
 * running it as a formula (OWASP "CSV Injection"); numbers are left as they are.
 */
export function csvField(v: Cell): string {
  const raw = v === null ? '' : String(v);
  const s = typeof v === 'string' && /^[=+\-@\t\r]/.test(raw) ? `'${raw}` : raw;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * A Markdown table cell: `|` escaped, HTML escaped (Markdown renders raw HTML, so a name like
 * `<script>` must arrive as text), control characters shown as `\u001b`-style escapes.
 */
function mdEscape(s: string): string {
  return visible(s).replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('|', '\\|');
}

/**
 * Text with its C0/C1 control characters and DEL written as `\u001b`-style escapes: a name in
 * a stored record must not move a terminal's cursor, set its title (OSC) or hide text.
 */
export function visible(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#39;');
}

/** Renders `rows` in `format`; ends with a newline. */
export function renderTable<R>(columns: readonly Column<R>[], rows: readonly R[], format: TextFormat): string {
  if (format === 'csv') {
    const lines = [columns.map((c) => csvField(c.key)).join(',')];
    for (const r of rows) lines.push(columns.map((c) => csvField(c.value(r))).join(','));
    return `${lines.join('\r\n')}\r\n`;
  }
  const cells = rows.map((r) => columns.map((c) => visible(textOf(c, r))));
  const aligns = columns.map((c) => alignOf(c, rows));
  if (format === 'md') {
    const head = `| ${columns.map((c) => mdEscape(c.title)).join(' | ')} |`;
    const rule = `| ${aligns.map((a) => (a === 'right' ? '---:' : ':---')).join(' | ')} |`;
    return `${[head, rule, ...cells.map((row) => `| ${row.map(mdEscape).join(' | ')} |`)].join('\n')}\n`;
  }
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((row) => (row[i] as string).length)));
  const pad = (s: string, i: number): string => (aligns[i] === 'right' ? s.padStart(widths[i] as number) : s.padEnd(widths[i] as number));
  const line = (row: readonly string[]): string => row.map(pad).join('  ').trimEnd();
  return `${[line(columns.map((c) => c.title)), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n')}\n`;
}

/** Renders `rows` as an HTML `<table>` (human text, numbers right-aligned). */
export function htmlTable<R>(columns: readonly Column<R>[], rows: readonly R[], className = 'data'): string {
  const aligns = columns.map((c) => alignOf(c, rows));
  const cls = (i: number): string => (aligns[i] === 'right' ? ' class="num"' : '');
  const head = columns.map((c, i) => `<th${cls(i)}>${escapeHtml(c.title)}</th>`).join('');
  const body = rows.map((r) => `<tr>${columns.map((c, i) => `<td${cls(i)}>${c.html === undefined ? escapeHtml(textOf(c, r)) : c.html(r)}</td>`).join('')}</tr>`).join('\n');
  return `<table class="${escapeHtml(className)}"><thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody></table>`;
}
