import { describe, expect, it } from 'vitest';
import { scopeSvgIds } from '../../src/report/charts/render.js';
import { csvField, escapeHtml, htmlTable, renderTable, type Column } from '../../src/report/table-format.js';

interface Row {
  readonly name: string;
  readonly ms: number | null;
}
const COLUMNS: readonly Column<Row>[] = [
  { key: 'name', title: 'name', value: (r) => r.name },
  { key: 'latency_ms', title: 'latency ms', value: (r) => r.ms, text: (r) => (r.ms === null ? '—' : r.ms.toFixed(1)), align: 'right' },
];
const ROWS: readonly Row[] = [
  { name: 'a,b "c"', ms: 1.25 },
  { name: 'x|y <z>', ms: null },
];

describe('renderTable', () => {
  it('writes RFC 4180 CSV: raw values, keys as the header, quoted fields where needed', () => {
    expect(renderTable(COLUMNS, ROWS, 'csv')).toBe('name,latency_ms\r\n"a,b ""c""",1.25\r\nx|y <z>,\r\n');
    expect(csvField('line\nbreak')).toBe('"line\nbreak"');
  });

  it('aligns terminal columns, numbers to the right', () => {
    expect(renderTable(COLUMNS, ROWS, 'table')).toBe(['name     latency ms', '-------  ----------', 'a,b "c"         1.3', 'x|y <z>           —', ''].join('\n'));
  });

  it('escapes pipes and HTML in Markdown cells', () => {
    expect(renderTable(COLUMNS, ROWS, 'md')).toBe(['| name | latency ms |', '| :--- | ---: |', '| a,b "c" | 1.3 |', '| x\\|y &lt;z&gt; | — |', ''].join('\n'));
  });

  it('escapes HTML cells', () => {
    expect(htmlTable(COLUMNS, ROWS)).toContain('<td>x|y &lt;z&gt;</td><td class="num">—</td>');
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});

describe('scopeSvgIds', () => {
  it('prefixes every id and every reference to one, so several SVGs can share a page', () => {
    const svg = '<svg><defs><clipPath id="clip1"><rect/></clipPath></defs><g clip-path="url(#clip1)"><use href="#clip1"/></g></svg>';
    expect(scopeSvgIds(svg, 'ecdf')).toBe('<svg><defs><clipPath id="ecdf-clip1"><rect/></clipPath></defs><g clip-path="url(#ecdf-clip1)"><use href="#ecdf-clip1"/></g></svg>');
  });
});
