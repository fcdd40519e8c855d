/**
 * Dollars as every text a user reads gives them (the screen, the CLI, the daemon's errors and inbox):
 * three places ($0.123, $0.29), two from $10, and below a cent two significant digits ($0.0006, $0.00047),
 * with no zeros past the cents. Cut, not rounded, so a cost under a cap never reads as the cap: an attempt
 * of $0.0006 under a $0.001 cap read `$0.001` at three places. The daemon once had its own format beside
 * this one: the inbox read `$0.0005` beside `$0.00051` in `orc show` for the same cost.
 */
export function formatCost(usd: number): string {
  return `$${costFigure(usd)}`;
}

/** `formatCost` without its dollar sign: the figure a command takes (`--task-budget 0.0042`). */
export function costFigure(usd: number): string {
  const places = costPlaces(usd);
  const scale = 10 ** places;
  // The nudge keeps a figure that is exact in decimal from being cut a unit short by binary (0.29 × 1000).
  const cut = Math.floor(usd * scale * (1 + 1e-12)) / scale;
  // Zeros past the cents go: a budget reads $5.00 and a cap $0.05, as typed, not $5.000 and $0.050.
  return cut.toFixed(places).replace(/(\.\d\d\d*?)0+$/, '$1');
}

/**
 * The least amount at or over `usd` that `formatCost` shows whole: an advised cap is rounded up to it, so
 * the figure in a text is the one its command sets, and no less than what was worked out.
 */
export function ceilCost(usd: number): number {
  const places = costPlaces(usd);
  const scale = 10 ** places;
  const up = Math.ceil(usd * scale * (1 - 1e-12)) / scale;
  return Number(up.toFixed(places));
}

function costPlaces(usd: number): number {
  return usd >= 10 ? 2 : usd > 0 && usd < 0.01 ? Math.min(8, 1 - Math.floor(Math.log10(usd))) : 3;
}
