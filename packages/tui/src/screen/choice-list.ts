import { cellWidth, escapeTags, truncateCells } from './text-cells.js';

/** The screen's room for a list, in cells. */
export interface Room {
  width: number;
  height: number;
}

/** A list to choose from as drawn: its size with borders, and its items as markup. */
export interface ChoiceList {
  width: number;
  height: number;
  items: string[];
}

/** A list keeps this many cells of the screen free on each side: the run shows around it. */
const MARGIN = 2;
/** Borders, and a cell each side of an item so the selection does not touch them. */
const FRAME = 4;

/**
 * A list of choices sized to its longest item, up to the screen's width: a choice reads whole where the
 * screen has room for it (rollback's `full: …` is 103 cells, and a list of 90 cut it mid-word), and is cut
 * with "…" only where it has not. The label, which says the keys, widens it too.
 */
export function layoutChoices(label: string, items: readonly string[], room: Room): ChoiceList {
  // The label sits after the corner and a line (`┌─ label ─┐`, a cell to spare): short of room, blessed
  // wraps it at a word and shows its first line only (`Rate t1's work: 5–1 or ↑↓ Enter (Esc`).
  const widest = Math.max(cellWidth(label) + 4, ...items.map((item) => cellWidth(item) + FRAME));
  const width = Math.max(FRAME + 1, Math.min(widest, room.width - 2 * MARGIN));
  const inner = width - FRAME;
  return {
    width,
    height: Math.max(3, Math.min(items.length + 2, room.height - 2 * MARGIN)),
    items: items.map((item) => ` ${escapeTags(truncateCells(item, inner))}`),
  };
}
