import blessed from 'blessed';
import type { BusyWorker } from './attach-state.js';
import { tailLines, type WorkerOutputs } from './worker-output.js';

/** Rows below which a worker's pane is not worth showing: the last one sums up the rest. */
const MIN_PANE_ROWS = 5;

/** One bordered pane per busy worker, stacked beside the task table, each with the tail of its output. */
export class WorkerPanes {
  private readonly panes = new Map<number, blessed.Widgets.BoxElement>();

  constructor(private readonly screen: blessed.Widgets.Screen) {}

  /** Lays the panes out in the given area; those that do not fit are summed up in the last one's label. */
  draw(
    busy: BusyWorker[],
    outputs: WorkerOutputs,
    area: { left: number; top: number; width: number; height: number },
  ): void {
    const { left, top, width, height } = area;
    const fit = width === 0 ? 0 : Math.max(1, Math.min(busy.length, Math.floor(height / MIN_PANE_ROWS)));
    const shown = busy.slice(0, fit);
    const seen = new Set<number>();
    shown.forEach(({ worker, taskId, status }, i) => {
      seen.add(worker);
      let pane = this.panes.get(worker);
      if (pane === undefined) {
        pane = blessed.box({
          parent: this.screen,
          tags: false,
          wrap: false,
          border: { type: 'line' },
          style: { border: { fg: 'yellow' } },
        });
        this.panes.set(worker, pane);
      }
      const paneTop = top + Math.floor((i * height) / fit);
      const paneHeight = top + Math.floor(((i + 1) * height) / fit) - paneTop;
      pane.left = left;
      pane.top = paneTop;
      pane.width = width;
      pane.height = paneHeight;
      const more = i === fit - 1 && busy.length > fit ? ` (+${busy.length - fit} more)` : '';
      pane.setLabel(` w${worker} · ${taskId} ${status}${more} `);
      pane.setContent(tailLines(outputs.text(worker, taskId), paneHeight - 2, width - 2).join('\n'));
    });
    for (const [worker, pane] of this.panes) {
      if (!seen.has(worker)) {
        pane.destroy();
        this.panes.delete(worker);
      }
    }
  }
}
