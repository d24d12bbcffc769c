/**
 * Vega-Lite spec → Vega → SVG text, in Node at build time: the report carries the finished
 * drawing, no script and no network. Vega's own axes, legends and layout (a plotting library,
 * not hand-drawn axes); the headless `renderer: 'none'` view draws the SVG string directly.
 */
import type { View } from 'vega';
import type { TopLevelSpec } from 'vega-lite';
import { importOptional } from '../../package/optional-dependency.js';
import { ReportError } from '../errors.js';

/** Look shared by every chart: readable sizes, titles left-aligned with a grey subtitle. */
export const CHART_CONFIG = {
  font: 'Helvetica, Arial, sans-serif',
  background: 'white',
  title: { fontSize: 15, anchor: 'start', subtitleFontSize: 12, subtitleColor: '#555', offset: 12 },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', gridColor: '#eee' },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 360, orient: 'bottom', direction: 'vertical' },
  header: { labelFontSize: 11, titleFontSize: 12 },
  view: { stroke: '#ccc' },
} as const satisfies NonNullable<TopLevelSpec['config']>;

/** Average width of a subtitle character at `CHART_CONFIG.title.subtitleFontSize` (12 px Helvetica), px: generous. */
const SUBTITLE_CHAR_PX = 6.6;

/**
 * Subtitle lines no wider than `widthPx`: Vega does not wrap titles, and one long line widens
 * the whole SVG, which the page then scales down — every label with it (a 460 px chart with a
 * 1,700 px subtitle was drawn at 60 %, its 11 px labels at 7 px).
 */
export function subtitleLines(text: string | readonly string[], widthPx: number): string[] {
  const maxChars = Math.max(20, Math.floor(widthPx / SUBTITLE_CHAR_PX));
  const out: string[] = [];
  for (const paragraph of typeof text === 'string' ? [text] : text) {
    let line = '';
    for (const word of paragraph.split(/\s+/).filter((w) => w !== '')) {
      if (line !== '' && line.length + 1 + word.length > maxChars) {
        out.push(line);
        line = word;
      } else line = line === '' ? word : `${line} ${word}`;
    }
    if (line !== '') out.push(line);
  }
  return out;
}

/**
 * Makes the `id`s inside one SVG unique in a page holding several (Vega numbers its clip paths
 * and gradients from 1 in every SVG): `id="clip1"` → `id="<prefix>-clip1"`, with every
 * `url(#…)` and `href="#…"` reference rewritten alike.
 */
export function scopeSvgIds(svg: string, prefix: string): string {
  return svg
    .replace(/\bid="([^"]+)"/g, (_m, id: string) => `id="${prefix}-${id}"`)
    .replace(/url\(#([^)]+)\)/g, (_m, id: string) => `url(#${prefix}-${id})`)
    .replace(/href="#([^"]+)"/g, (_m, id: string) => `href="#${prefix}-${id}"`);
}

/**
 * Renders `spec` to an SVG element string whose ids are scoped by `id`. What Vega-Lite and Vega
 * log (a dropped scale property, a merged legend) goes to `warnings`, prefixed with `id`,
 * instead of the console: a report builder decides what to do with it.
 */
export async function renderSvg(spec: TopLevelSpec, id: string, warnings: string[] = []): Promise<string> {
  // Loaded on first use: importing the package must not pull in Vega.
  const [{ parse, View, logger, Warn }, { compile }] = await Promise.all([
    importOptional('vega', 'the HTML report (charts)', () => import('vega')),
    importOptional('vega-lite', 'the HTML report (charts)', () => import('vega-lite')),
  ]);
  const log = logger(Warn, undefined, (_method, _level, args) => void warnings.push(`${id}: ${args.map(String).join(' ')}`));
  let view: View | undefined;
  try {
    const vg = compile({ ...spec, config: { ...CHART_CONFIG, ...spec.config } }, { logger: log }).spec;
    view = new View(parse(vg), { renderer: 'none', logger: log });
    const svg = await view.toSVG();
    if (!svg.startsWith('<svg')) throw new ReportError('E_CHART', `chart ${id}: vega produced no SVG`);
    return scopeSvgIds(svg, id);
  } catch (e) {
    if (e instanceof ReportError) throw e;
    throw new ReportError('E_CHART', `chart ${id}: ${(e as Error).message}`, { cause: e });
  } finally {
    view?.finalize();
  }
}
