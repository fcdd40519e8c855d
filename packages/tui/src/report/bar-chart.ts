import { escapeMarkup, px } from './markup.js';

export interface Bar {
  label: string;
  value: number;
  /** What the bar's end says (the value formatted). */
  text: string;
  /** Shown on hover. */
  title?: string;
  /** A fill colour other than the chart's. */
  color?: string;
}

const ROW = 22;
const LABEL_WIDTH = 300;
const TEXT_WIDTH = 90;

/** Horizontal bars, largest first as given, in an inline SVG of `width` pixels. */
export function barChart(
  bars: readonly Bar[],
  options: { width: number; color: string; label: string },
): string {
  if (bars.length === 0) return '<p class="empty">Nothing to show.</p>';
  const max = Math.max(...bars.map((b) => b.value), Number.MIN_VALUE);
  const plot = options.width - LABEL_WIDTH - TEXT_WIDTH;
  const height = bars.length * ROW + 8;
  const rows = bars.map((bar, i) => {
    const y = 4 + i * ROW;
    const w = Math.max(1, (bar.value / max) * plot);
    const title = escapeMarkup(bar.title ?? `${bar.label}: ${bar.text}`);
    return (
      `<g class="bar"><title>${title}</title>` +
      `<text x="${LABEL_WIDTH - 8}" y="${y + 15}" text-anchor="end">${escapeMarkup(clip(bar.label, 44))}</text>` +
      `<rect x="${LABEL_WIDTH}" y="${y + 3}" width="${px(w)}" height="${ROW - 6}" rx="2" fill="${bar.color ?? options.color}"/>` +
      `<text x="${px(LABEL_WIDTH + w + 6)}" y="${y + 15}">${escapeMarkup(bar.text)}</text></g>`
    );
  });
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${escapeMarkup(options.label)}" ` +
    `width="${options.width}" height="${height}" viewBox="0 0 ${options.width} ${height}">${rows.join('')}</svg>`
  );
}

export function clip(text: string, chars: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > chars ? `${line.slice(0, chars - 1)}…` : line;
}
