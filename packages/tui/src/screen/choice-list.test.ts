import { ROLLBACK_STRATEGY_SUMMARY } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { layoutChoices } from './choice-list.js';
import { cellWidth } from './text-cells.js';

describe('layoutChoices', () => {
  const strategies = [
    `full: ${ROLLBACK_STRATEGY_SUMMARY.full}`,
    `partial: ${ROLLBACK_STRATEGY_SUMMARY.partial}`,
  ];

  it("shows rollback's choices whole at 160 columns: the list is as wide as its longest choice", () => {
    const list = layoutChoices(' Roll back to cp1: how? ', strategies, { width: 160, height: 40 });
    expect(list.items.map((item) => item.trim())).toEqual(strategies);
    expect(list.width).toBe(Math.max(...strategies.map(cellWidth)) + 4);
    expect(list.height).toBe(4);
  });

  it('cuts a choice the screen has no room for with "…", within the screen', () => {
    const list = layoutChoices(' Roll back to cp1: how? ', strategies, { width: 80, height: 24 });
    expect(list.width).toBe(76);
    for (const item of list.items) {
      expect(item).toMatch(/…$/);
      expect(cellWidth(item)).toBeLessThanOrEqual(list.width - 3);
    }
    expect(list.items[0]).toMatch(/^ full: every task as it was at the checkpoint; /);
  });

  it('is as wide as its label, escapes markup in items, and fits a short screen', () => {
    const label = " Rate t1's work: 5–1 or ↑↓ Enter (Esc cancels) ";
    const list = layoutChoices(label, ['5 {bold}', '4 good'], { width: 120, height: 5 });
    expect(list.width).toBe(cellWidth(label) + 4);
    expect(list.items[0]).toBe(' 5 {open}bold{close}');
    expect(list.height).toBe(3);
  });
});
