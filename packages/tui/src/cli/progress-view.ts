import type { OrcEvent, RunView, TaskStatus } from '@orc/shared';
import { formatDuration } from '../screen/format.js';
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

const SETTLED: ReadonlySet<TaskStatus> = new Set(['done', 'failed', 'skipped', 'cancelled']);

/**
 * What `orc run` shows while attached. On a terminal: a line per task as it changes and a progress bar
 * redrawn at the bottom; otherwise one plain line per event, and every `progressEveryMs`
 * (`monitoring.progress_interval`) a line of where the run stands, for logs that outlast a screen.
 */
export class ProgressView {
  private readonly status = new Map<string, TaskStatus>();
  private readonly titles = new Map<string, string>();
  private barShown = false;
  private readonly startedAt = Date.now();
  private readonly ticker: NodeJS.Timeout | undefined;

  constructor(
    private readonly tty: boolean,
    private readonly write: (text: string) => void = (text) => process.stdout.write(text),
    progressEveryMs = 0,
  ) {
    if (!tty && progressEveryMs > 0) {
      this.ticker = setInterval(() => this.progressLine(), progressEveryMs);
      this.ticker.unref();
    }
  }

  seed(view: RunView): void {
    for (const task of view.tasks) {
      this.status.set(task.id, task.status);
      this.titles.set(task.id, task.title);
    }
  }

  onEvent(event: OrcEvent): void {
    this.follow(event);
    if (!this.tty) return this.write(`${eventLine(event)}\n`);
    if (event.type === 'run.planned') {
      this.line(`planned ${event.tasks.length} tasks`);
    } else if (event.type === 'task.status') {
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

  /** Leaves the bar in place and moves to a fresh line; no more progress lines. */
  end(): void {
    if (this.ticker) clearInterval(this.ticker);
    if (this.tty && this.barShown) this.write('\n');
    this.barShown = false;
  }

  /** Keeps each task's status and title as the events say. */
  private follow(event: OrcEvent): void {
    if (event.type === 'run.planned' || event.type === 'plan.tasks_added') {
      for (const task of event.tasks) {
        this.status.set(task.id, 'pending');
        this.titles.set(task.id, task.title);
      }
    } else if (event.type === 'plan.tasks_removed') {
      for (const id of event.taskIds) this.status.delete(id);
    } else if (event.type === 'task.status') {
      this.status.set(event.taskId, event.status);
    }
  }

  /** `progress: 120/500 settled (112 done, 8 failed), 4 running, 2m10s in` */
  private progressLine(): void {
    if (this.status.size === 0) return;
    const count = new Map<TaskStatus, number>();
    for (const status of this.status.values()) count.set(status, (count.get(status) ?? 0) + 1);
    const settled = [...SETTLED].reduce((sum, status) => sum + (count.get(status) ?? 0), 0);
    const kinds = [...SETTLED].filter((status) => count.has(status));
    const running = (count.get('running') ?? 0) + (count.get('reviewing') ?? 0);
    const of = kinds.map((status) => `${count.get(status)} ${status}`).join(', ');
    this.write(
      `progress: ${settled}/${this.status.size} settled${of ? ` (${of})` : ''}, ${running} running, ` +
        `${formatDuration(Date.now() - this.startedAt)} in\n`,
    );
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
