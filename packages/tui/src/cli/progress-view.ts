import type { OrcEvent, RunView, TaskStatus } from '@orc/shared';
import { eventLine } from './event-line.js';

const BAR_WIDTH = 24;
const MARK: Partial<Record<TaskStatus, string>> = {
  running: '▶',
  done: '✓',
  failed: '✗',
  skipped: '-',
  cancelled: '-',
  blocked: '!',
};

/**
 * What `orc run` shows while attached. On a terminal: a line per task as it changes and a progress bar
 * redrawn at the bottom; otherwise one plain line per event.
 */
export class ProgressView {
  private readonly status = new Map<string, TaskStatus>();
  private readonly titles = new Map<string, string>();
  private barShown = false;

  constructor(
    private readonly tty: boolean,
    private readonly write: (text: string) => void = (text) => process.stdout.write(text),
  ) {}

  seed(view: RunView): void {
    for (const task of view.tasks) {
      this.status.set(task.id, task.status);
      this.titles.set(task.id, task.title);
    }
  }

  onEvent(event: OrcEvent): void {
    if (!this.tty) return this.write(`${eventLine(event)}\n`);
    if (event.type === 'run.planned') {
      for (const task of event.tasks) {
        this.status.set(task.id, 'pending');
        this.titles.set(task.id, task.title);
      }
      this.line(`planned ${event.tasks.length} tasks`);
    } else if (event.type === 'task.status') {
      this.status.set(event.taskId, event.status);
      const mark = MARK[event.status];
      if (mark !== undefined)
        this.line(`${mark} ${event.taskId} ${this.titles.get(event.taskId) ?? ''} (${event.status})`);
    } else if (
      event.type === 'run.paused' ||
      event.type === 'run.resumed' ||
      event.type === 'run.failed' ||
      event.type === 'run.rolled_back' ||
      event.type === 'run.restored'
    ) {
      this.line(eventLine(event));
    }
    this.drawBar();
  }

  /** Leaves the bar in place and moves to a fresh line. */
  end(): void {
    if (this.tty && this.barShown) this.write('\n');
    this.barShown = false;
  }

  private line(text: string): void {
    this.write(`${this.barShown ? '\r\x1b[K' : ''}${text}\n`);
    this.barShown = false;
  }

  private drawBar(): void {
    const total = this.status.size;
    const statuses = [...this.status.values()];
    const settled = statuses.filter(
      (s) => s === 'done' || s === 'skipped' || s === 'failed' || s === 'cancelled',
    ).length;
    const running = statuses.filter((s) => s === 'running' || s === 'reviewing').length;
    const filled = total === 0 ? 0 : Math.round((settled / total) * BAR_WIDTH);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${settled}/${total} · ${running} running`;
    this.write(`\r\x1b[K${bar}`);
    this.barShown = true;
  }
}
