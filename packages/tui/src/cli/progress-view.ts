import type { OrcEvent, RunStatus, RunView, TaskStatus } from '@orc/shared';
import { formatDuration, plural } from '../screen/format.js';
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
/** The run's statuses that are a phase of its own, named in the progress line. */
const PHASE: Partial<Record<RunStatus, string>> = {
  analyzing: 'planning',
  awaiting_approval: 'plan waiting for approval',
  reviewing: 'final review',
};
const BAR_EVERY_MS = 50;

/**
 * What `orc run` shows while attached. On a terminal: a line per task as it changes and a progress bar
 * redrawn at the bottom; otherwise one plain line per event, and every `progressEveryMs`
 * (`monitoring.progress_interval`) a line of where the run stands, for logs that outlast a screen.
 */
export class ProgressView {
  private readonly status = new Map<string, TaskStatus>();
  private readonly titles = new Map<string, string>();
  /** How many tasks are in each status, kept as events come: a 100,000-task run is not counted per event. */
  private readonly count = new Map<TaskStatus, number>();
  /** What the run does besides its tasks, said in the progress line: planning, its final review. */
  private phase: string | undefined;
  private barShown = false;
  /** A bar drawn at most every BAR_EVERY_MS: an attached terminal is not written to per event. */
  private barDue: NodeJS.Timeout | undefined;
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
      this.setStatus(task.id, task.status);
      this.titles.set(task.id, task.title);
    }
  }

  onEvent(event: OrcEvent): void {
    this.follow(event);
    if (!this.tty) return this.write(`${eventLine(event)}\n`);
    if (event.type === 'run.planned') {
      this.line(`planned ${plural(event.tasks.length, 'task')}`);
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
    this.barDue ??= setTimeout(() => {
      this.barDue = undefined;
      this.drawBar();
    }, BAR_EVERY_MS);
  }

  /** Leaves the bar in place and moves to a fresh line; no more progress lines. */
  end(): void {
    if (this.ticker) clearInterval(this.ticker);
    if (this.barDue) {
      clearTimeout(this.barDue);
      this.barDue = undefined;
      if (this.tty) this.drawBar();
    }
    if (this.tty && this.barShown) this.write('\n');
    this.barShown = false;
  }

  /** Keeps each task's status and title, and the run's phase, as the events say. */
  private follow(event: OrcEvent): void {
    if (event.type === 'run.planned' || event.type === 'plan.tasks_added') {
      for (const task of event.tasks) {
        this.setStatus(task.id, 'pending');
        this.titles.set(task.id, task.title);
      }
    } else if (event.type === 'plan.tasks_removed') {
      for (const id of event.taskIds) this.setStatus(id, undefined);
    } else if (event.type === 'task.status') {
      this.setStatus(event.taskId, event.status);
    } else if (event.type === 'run.planning') {
      this.phase = 'planning';
    } else if (event.type === 'run.status') {
      this.phase = PHASE[event.status];
    }
  }

  private setStatus(id: string, to: TaskStatus | undefined): void {
    const from = this.status.get(id);
    if (from !== undefined) this.count.set(from, (this.count.get(from) ?? 0) - 1);
    if (to === undefined) {
      this.status.delete(id);
      return;
    }
    this.status.set(id, to);
    this.count.set(to, (this.count.get(to) ?? 0) + 1);
  }

  private counted(status: TaskStatus): number {
    return this.count.get(status) ?? 0;
  }

  private settled(): number {
    return [...SETTLED].reduce((sum, status) => sum + this.counted(status), 0);
  }

  /** `progress: 120/500 settled (112 done, 8 failed), 4 running, 1 in review, 2m10s in` */
  private progressLine(): void {
    const elapsed = `${formatDuration(Date.now() - this.startedAt)} in`;
    if (this.status.size === 0) {
      if (this.phase !== undefined) this.write(`progress: ${this.phase}, ${elapsed}\n`);
      return;
    }
    const of = [...SETTLED]
      .filter((status) => this.counted(status) > 0)
      .map((status) => `${this.counted(status)} ${status}`)
      .join(', ');
    const reviewing = this.counted('reviewing');
    this.write(
      `progress: ${this.settled()}/${this.status.size} settled${of ? ` (${of})` : ''}, ` +
        `${this.counted('running')} running, ${reviewing > 0 ? `${reviewing} in review, ` : ''}` +
        `${this.phase !== undefined ? `${this.phase}, ` : ''}${elapsed}\n`,
    );
  }

  private line(text: string): void {
    this.write(`${this.barShown ? '\r\x1b[K' : ''}${text}\n`);
    this.barShown = false;
  }

  private drawBar(): void {
    const total = this.status.size;
    const settled = this.settled();
    const running = this.counted('running') + this.counted('reviewing');
    const filled = total === 0 ? 0 : Math.round((settled / total) * BAR_WIDTH);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${settled}/${total} · ${running} running`;
    this.write(`\r\x1b[K${bar}`);
    this.barShown = true;
  }
}
