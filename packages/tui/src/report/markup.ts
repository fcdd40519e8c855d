/** Text made safe inside HTML and SVG, in element content and in quoted attributes alike. */
export function escapeMarkup(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** A number for an SVG attribute: two decimals at most, so pages stay small. */
export function px(n: number): string {
  return String(Math.round(n * 100) / 100);
}
