import { FINISHED_RUN_STATUSES, fileWaits, type RunStatus } from '@orc/shared';
import blessed from 'blessed';
import { AttachState } from './attach-state.js';
import { createTerminalScreen, type TerminalOptions } from './blessed-terminal.js';
import type { Key } from './dialogs.js';
import { eventLineMarkup, type EventLevel } from './event-line.js';
import { followRun } from './follow-run.js';
import { FrameScheduler } from './frame-scheduler.js';
import { renderHeader } from './header.js';
import { remoteLine } from './remote-line.js';
import { HELP_TEXT, keyHints } from './help.js';
import { InboxFeed } from './inbox-feed.js';
import { guardTerminalOutput } from './output-guard.js';
import { Popups } from './popups.js';
import { QuietStreamWatch } from './quiet-stream-watch.js';
import type { AttachClient } from './attach-client.js';
import { RowFetcher } from './row-fetcher.js';
import { closingMessage, runIsOver } from './run-summary.js';
import { TABLE_LABEL, tableLabel, tableMarkup } from './table-markup.js';
import { renderTaskDetail } from './task-detail.js';
import { DaemonRestart, LOST_ALERTS, TIME_HELD } from './daemon-restart.js';
import { askRollback, rollbackUnsaid } from './rollback-choice.js';
import { escapeTags, fitCells, oneLine } from './text-cells.js';
import { WorkerPanes } from './worker-panes.js';

export interface AttachOptions extends TerminalOptions {
  /** `monitoring.show_progress_bar`; default true. */
  showProgressBar?: boolean;
  /** Leave the screen by itself once the run has finished (for `orc run`); default false. */
  exitOnFinish?: boolean;
  /** How the user reattaches, for the line printed on detach; default `orc attach <run>`. */
  reattachCommand?: (runId: string) => string;
  /** Shortest time between two frames; default 50 ms (20 frames a second). */
  frameIntervalMs?: number;
  /** `notifications.bell`: ring the terminal bell when an inbox item is pushed; default false. */
  bell?: boolean;
}

export type AttachOutcome = 'detached' | 'finished' | 'interrupted';

export interface AttachResult {
  outcome: AttachOutcome;
  /** The run on screen when it closed (Tab may have switched runs). */
  runId: string;
  /** The line printed after the screen was restored. */
  message: string;
  /** The run's status when the screen closed, if it was known. */
  status: RunStatus | undefined;
}

/** What `s` and `X` ask before they act on a task (`id` is markup). */
type TaskQuestion = (id: string) => { label: string; text: string };
const SKIP_QUESTION: TaskQuestion = (id) => ({
  label: ' Skip task ',
  text: `Skip task ${id}? What depends on it goes on without it.\n{bold}y{/bold} skip it   {bold}n{/bold}/Esc keep it`,
});
const CANCEL_TASK_QUESTION: TaskQuestion = (id) => ({
  label: ' Cancel task ',
  text: `Cancel task ${id}? Its attempt stops; it waits until you edit, retry or skip it.\n{bold}y{/bold} cancel it   {bold}n{/bold}/Esc keep it`,
});

const EVENT_ROWS = 8;
const RETRY_DELAYS_MS = [250, 500, 1000, 2000, 5000];

/**
 * Opens the run on the terminal and follows it live until the user detaches (q), interrupts (Ctrl-C)
 * or, with `exitOnFinish`, the run ends. The terminal is restored in every case, including a daemon
 * that goes away (the screen says so and reconnects).
 */
export function attachScreen(
  client: AttachClient,
  runId: string,
  options: AttachOptions = {},
): Promise<AttachResult> {
  return new Promise<AttachResult>((resolve) => {
    new AttachSession(client, runId, options, resolve).start();
  });
}

class AttachSession {
  private readonly state = new AttachState();
  private readonly screen: blessed.Widgets.Screen;
  private readonly header: blessed.Widgets.BoxElement;
  private readonly table: blessed.Widgets.BoxElement;
  private readonly events: blessed.Widgets.BoxElement;
  private readonly footer: blessed.Widgets.BoxElement;
  private readonly workerPanes: WorkerPanes;
  private readonly frames: FrameScheduler;
  private readonly guard: { restore(): void };
  private readonly ticker: NodeJS.Timeout;
  private readonly quiet: QuietStreamWatch;
  /** What waits for a person, in every run of the daemon. */
  private readonly inbox: InboxFeed;
  private readonly restart: DaemonRestart;
  private daemonStopped = false; // on purpose, by a person: the screen waits for someone to start it
  private unfollow: (() => void) | undefined;
  private unwatch: (() => void) | undefined;
  /** Bumped on every (re)connect, so callbacks of an older subscription are ignored. */
  private generation = 0;
  private retries = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private alert: string | undefined;
  /**
   * Since when the daemon cannot be reached: the run's clock stands still at it, as the daemon counts
   * the time it was away (it counted on, then stepped back once the daemon was back).
   */
  private awaySince: number | undefined;
  /** The Redis backend's workers as the header shows them; asked for every second, one ask at a time. */
  private remote: string | undefined;
  private askingRemote = false;
  private readonly popups: Popups;
  /** The rows the table shows of a large run, asked for as it moves. */
  private readonly rows: RowFetcher;
  private closed = false;
  private tableLabel = TABLE_LABEL;

  constructor(
    private readonly client: AttachClient,
    private runId: string,
    private readonly options: AttachOptions,
    private readonly resolve: (result: AttachResult) => void,
  ) {
    this.screen = createTerminalScreen(options);
    this.guard = guardTerminalOutput((text) => this.say('warn', text));
    // blessed prints an uncaught exception's stack after restoring the terminal: let it through.
    this.screen.on('destroy', () => this.guard.restore());
    const box = (opts: blessed.Widgets.BoxOptions) =>
      blessed.box({ parent: this.screen, tags: true, wrap: false, ...opts });
    this.header = box({ top: 0, left: 0, width: '100%', height: 4 });
    this.table = box({
      left: 0,
      border: { type: 'line' },
      label: TABLE_LABEL,
      style: { border: { fg: 'blue' } },
    });
    this.events = box({
      left: 0,
      width: '100%',
      border: { type: 'line' },
      label: ' Events ',
      style: { border: { fg: 'blue' } },
    });
    this.workerPanes = new WorkerPanes(this.screen);
    this.footer = box({ bottom: 0, left: 0, width: '100%', height: 1, style: { fg: 'gray' } });
    this.frames = new FrameScheduler(() => this.draw(), options.frameIntervalMs ?? 50);
    this.popups = new Popups(this.screen, () => this.frames.request());
    this.rows = new RowFetcher(
      ({ window: { offset, limit }, query }, signal) =>
        client.trpc.tasks.page.query({ runId: this.runId, offset, limit, ...query }, { signal }),
      (page, { query }) => {
        this.state.takeRows(page, query);
        // Rows a key moved to: shown at once.
        this.frames.request(true);
      },
      (error) => this.lost(error),
    );
    this.quiet = new QuietStreamWatch(client);
    this.ticker = setInterval(() => {
      this.frames.request();
      this.quiet.tick(this.state, () => this.frames.request());
      this.pollRemote();
    }, 1000);
    this.inbox = new InboxFeed(client.trpc.inbox, {
      onChange: () => this.frames.request(),
      onNotified: () => {
        if (this.options.bell) this.screen.program.bell();
      },
    });
    this.restart = new DaemonRestart(client.connection?.startDaemon, {
      started: (text) => this.say('warn', text),
      failed: (error) => {
        this.alert = `Cannot reach the daemon, and starting it failed (${messageOf(error)}); orc daemon start starts it. q leaves.`;
        this.frames.request();
      },
    });
    this.bindKeys();
    this.screen.on('resize', () => this.frames.request());
  }

  start(): void {
    this.draw();
    this.unwatch = this.client.connection?.watch((connected, stopped) => {
      if (this.closed) return;
      this.daemonStopped = stopped;
      if (connected) {
        // The daemon may have restarted: fetch the run afresh rather than trust the old stream.
        void this.connect();
        this.inbox.restart();
        return;
      }
      this.alert = LOST_ALERTS[this.restart.lost(stopped)];
      this.awaySince ??= Date.now();
      this.frames.request();
    });
    void this.connect();
    this.inbox.start();
  }

  private pollRemote(): void {
    const daemon = this.client.trpc.daemon;
    if (!daemon || this.askingRemote || this.closed) return;
    this.askingRemote = true;
    daemon.workers
      .query()
      .then((status) => {
        const line = status === null ? undefined : remoteLine(status);
        if (line !== this.remote) {
          this.remote = line;
          this.frames.request();
        }
      })
      .catch(() => undefined)
      .finally(() => (this.askingRemote = false));
  }

  // ---- connection ---------------------------------------------------------------------------------

  private async connect(): Promise<void> {
    const generation = ++this.generation;
    this.rows.cancel();
    this.unfollow?.();
    this.unfollow = undefined;
    const runId = this.runId;
    try {
      const view = await this.client.trpc.runs.get.query({ runId });
      if (this.closed || generation !== this.generation) return;
      this.state.reset(view);
      this.alert = undefined;
      this.awaySince = undefined;
      this.retries = 0;
      // Drawn at once: the rows the table lacks (its last ones, for End) are asked for first.
      this.draw();
      if (this.closed) return;
      // A view holding a window of the tasks does not hold every busy task: the workers' panes need them.
      if (this.state.holdsWindow)
        this.client.trpc.tasks.page.query({ runId, status: ['running', 'reviewing'] }).then(
          (page) => {
            if (generation !== this.generation) return;
            this.state.takeBusy(page);
            this.frames.request();
          },
          (error: unknown) => {
            if (generation === this.generation) this.lost(error);
          },
        );
      this.unfollow = followRun(
        this.client,
        runId,
        this.state.followFrom(),
        (events) => {
          if (generation !== this.generation) return;
          this.quiet.heard();
          this.state.pushBatch(events);
          this.frames.request();
        },
        (error) => {
          if (generation === this.generation) this.lost(error);
        },
      );
      this.frames.request();
    } catch (error) {
      if (!this.closed && generation === this.generation) this.lost(error);
    }
  }

  private lost(error: unknown): void {
    if (this.closed) return;
    this.unfollow?.();
    this.unfollow = undefined;
    this.awaySince ??= Date.now();
    if (this.daemonStopped) return; // that is the news, not the calls it leaves unanswered
    const delay = RETRY_DELAYS_MS[Math.min(this.retries, RETRY_DELAYS_MS.length - 1)]!;
    this.retries++;
    this.alert = `Cannot reach the daemon (${messageOf(error)}); retrying in ${(delay / 1000).toFixed(1)}s; ${TIME_HELD}. q leaves.`;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.connect(), delay);
    this.frames.request();
  }

  // ---- drawing ------------------------------------------------------------------------------------

  private draw(): void {
    if (this.closed) return;
    this.state.flush();
    if (this.state.needsRefetch) {
      this.state.needsRefetch = false;
      void this.connect();
    }
    const view = this.state.view;
    const width = Math.max(20, this.screen.width as number);
    const height = Math.max(10, this.screen.height as number);
    const now = this.awaySince ?? Date.now();

    const headerLines = view
      ? renderHeader(view, {
          width,
          now,
          showProgressBar: this.options.showProgressBar ?? true,
          alert: this.alert,
          waiting: this.inbox.count(this.runId),
          ...(this.remote !== undefined && { remote: this.remote }),
        })
      : [
          `{bold}run ${escapeTags(this.runId)}{/bold}`,
          this.alert ? `{red-fg}${escapeTags(this.alert)}{/red-fg}` : 'connecting to the daemon…',
        ];
    this.header.height = headerLines.length;
    this.header.setContent(headerLines.join('\n'));

    const eventRows = Math.min(EVENT_ROWS, Math.max(3, Math.floor(height / 4)));
    const bodyTop = headerLines.length;
    const bodyHeight = Math.max(3, height - bodyTop - eventRows - 1);
    const busy = this.state.busyWorkers();
    const paneWidth = busy.length > 0 && width >= 80 ? Math.floor(width * 0.4) : 0;
    const tableWidth = width - paneWidth;

    this.table.top = bodyTop;
    this.table.width = tableWidth;
    this.table.height = bodyHeight;
    this.table.setContent(tableMarkup(this.state, tableWidth - 2, bodyHeight - 2, now));
    const label = tableLabel(this.state);
    if (label !== this.tableLabel) this.table.setLabel((this.tableLabel = label));

    this.workerPanes.draw(busy, this.state.outputs, {
      left: tableWidth,
      top: bodyTop,
      width: paneWidth,
      height: bodyHeight,
    });

    this.events.top = bodyTop + bodyHeight;
    this.events.height = eventRows;
    const lines = this.state.lines.slice(-(eventRows - 2));
    this.events.setContent(lines.map((l) => eventLineMarkup(l)).join('\n'));

    const damaged = this.state.view?.status === 'damaged';
    this.footer.setContent(escapeTags(fitCells(keyHints(width, { damaged }), width)));
    this.popups.update(Date.now());
    this.screen.render();
    this.rows.want(this.state.wantedRows());

    if (view && this.options.exitOnFinish && runIsOver(view) && this.popups.idle) {
      this.close('finished');
    }
  }

  // ---- keys ---------------------------------------------------------------------------------------

  private bindKeys(): void {
    const on = (keys: string[], action: () => void) =>
      this.screen.key(keys, (_ch: unknown, key: Key) => {
        if (!this.popups.holds(key) && !this.closed) action();
      });
    this.screen.key(['C-c'], () => this.close('interrupted'));
    on(['q'], () => this.close('detached'));
    on(['up', 'k'], () => this.moveBy(-1));
    on(['down', 'j'], () => this.moveBy(1));
    on(['pageup'], () => this.moveBy(-this.pageSize()));
    on(['pagedown'], () => this.moveBy(this.pageSize()));
    on(['home', 'g'], () => this.moveBy(-Infinity));
    on(['end', 'S-g'], () => this.moveBy(Infinity));
    on(['enter'], () => this.showDetail());
    on(['?'], () => this.popups.overlay(' Help ', HELP_TEXT));
    on(['p'], () => this.togglePause());
    on(['c'], () => this.act('checkpoint', (runId) => this.client.trpc.checkpoints.create.mutate({ runId })));
    on(['b'], () => void this.chooseRollback());
    on(['r'], () => this.taskAction('retry', this.client.trpc.tasks.retry));
    on(['s'], () => this.taskAction('skip', this.client.trpc.tasks.skip, SKIP_QUESTION));
    on(['S-x'], () => this.taskAction('cancel', this.client.trpc.tasks.cancel, CANCEL_TASK_QUESTION));
    on(['*'], () => void this.rateTask());
    on(['f'], () => this.refilter(() => this.state.filter.nextStatus()));
    on(['/'], () => void this.askSearch());
    on(['escape'], () => {
      if (this.state.filter.query !== undefined) this.refilter(() => this.state.filter.clear());
    });
    on(['x'], () => this.confirmCancel());
    on(['tab'], () => void this.nextRun());
    on(['i'], () => this.openInbox());
  }

  private pageSize(): number {
    return Math.max(1, (this.table.height as number) - 3);
  }

  private moveBy(delta: number): void {
    if (delta === -Infinity) this.state.moveTo(0);
    else if (delta === Infinity) this.state.moveTo(this.state.total - 1);
    else this.state.move(delta);
    this.frames.request(true);
  }

  private togglePause(): void {
    const view = this.state.view;
    if (view === undefined) return;
    if (FINISHED_RUN_STATUSES.has(view.status)) {
      this.state.note('warn', `run ${view.id} is ${view.status}; there is nothing to pause`);
      this.frames.request();
      return;
    }
    const what = view.status === 'paused' ? 'resume' : 'pause';
    const { runs } = this.client.trpc;
    this.act(what, (runId) => runs[what].mutate({ runId }));
  }

  /**
   * Asks the daemon to do `what` to the selected task; with a `question`, once the person said yes to it
   * (a skip or a cancel is not undone by pressing the key again, as a run's cancel is not).
   */
  private taskAction(
    what: string,
    procedure: { mutate(input: { runId: string; taskId: string }): Promise<unknown> },
    question?: TaskQuestion,
  ): void {
    const task = this.state.selectedTask();
    if (task === undefined) return;
    const run = () => this.act(what, (runId) => procedure.mutate({ runId, taskId: task.id }));
    if (question === undefined) return run();
    const { label, text } = question(escapeTags(task.id));
    void this.popups.confirm(label, text).then((yes) => yes && run());
  }

  /** The table shows other tasks: from its first row, asked for at once. */
  private refilter(change: () => void): void {
    change();
    this.state.filterChanged();
    this.frames.request(true);
  }

  /** `/`: a search of the tasks' ids and titles; Enter applies it, Esc clears it. */
  private async askSearch(): Promise<void> {
    const label = ' Search ids and titles (Enter applies, Esc clears) ';
    const text = await this.popups.line(label, this.state.filter.searchText);
    this.refilter(() => this.state.filter.search(text ?? ''));
  }

  /** `*`: the selected task's work rated 1–5, for `orc report` (a comment needs `orc feedback`). */
  private async rateTask(): Promise<void> {
    const task = this.state.selectedTask();
    if (task === undefined) return;
    const scores = ['5 just right', '4 good', '3 usable', '2 poor', '1 useless'];
    const label = ` Rate ${task.id}'s work: 5–1 or ↑↓ Enter (Esc cancels) `;
    const picked = await this.popups.pick(label, scores, ['5', '4', '3', '2', '1']);
    if (picked === undefined) return;
    this.act('rating', (runId) =>
      this.client.trpc.feedback.add.mutate({ runId, taskId: task.id, rating: 5 - picked }),
    );
  }

  /**
   * Runs an action on the daemon. What it did arrives as events, which tell it on their own line (the
   * checkpoint saved, the task cancelled): a note of its own repeated each one. A refusal, which no event
   * tells, is shown with its reason; `then` tells what no event will.
   */
  private act<T>(what: string, run: (runId: string) => Promise<T>, then?: (result: T) => void): void {
    run(this.runId).then(
      (result) => {
        if (then === undefined) return;
        then(result);
        this.frames.request();
      },
      (error: unknown) => {
        this.say('error', `${what} failed: ${messageOf(error)}`);
      },
    );
  }

  /** A line of the screen's own on the event pane, drawn at the next frame. */
  private say(level: EventLevel, text: string): void {
    this.state.note(level, text);
    this.frames.request();
  }

  private confirmCancel(): void {
    const view = this.state.view;
    if (view === undefined || FINISHED_RUN_STATUSES.has(view.status)) return;
    const question = `Cancel run ${escapeTags(view.id)}? Running work is stopped.\n{bold}y{/bold} cancel the run   {bold}n{/bold}/Esc keep it running`;
    void this.popups.confirm(' Cancel run ', question).then((yes) => {
      if (yes) this.act('cancel', (runId) => this.client.trpc.runs.cancel.mutate({ runId }));
    });
  }

  private openInbox(): void {
    this.popups.inbox({
      feed: this.inbox,
      runId: this.runId,
      note: (level, text) => this.state.note(level, text),
    });
  }

  private showDetail(): void {
    const task = this.state.selectedTask();
    if (task === undefined) return;
    const wait = fileWaits(this.state.view?.tasks ?? []).get(task.id);
    const replace = this.popups.overlay(` Task ${task.id} `, renderTaskDetail(task, Date.now(), wait));
    // The run view leaves results and outputs out; the full record replaces it when it arrives.
    const runId = this.runId;
    this.client.trpc.tasks.get.query({ runId, taskId: task.id }).then(
      (full) => {
        if (this.runId === runId) replace(renderTaskDetail(full, Date.now(), wait));
      },
      () => undefined,
    );
  }

  /** `b`: the checkpoints (a "loading" line while the daemon lists them), then how to roll back. */
  private async chooseRollback(): Promise<void> {
    const runId = this.runId;
    const choice = await askRollback(
      this.popups,
      () => this.client.trpc.checkpoints.list.query({ runId }),
      this.state.selectedTask(),
      (level, text) => this.say(level, text),
    );
    if (choice === undefined) return;
    const { checkpoint, strategy, tasks } = choice;
    this.act(
      'rollback',
      (runId) =>
        this.client.trpc.checkpoints.rollback.mutate({
          runId,
          checkpointId: checkpoint.id,
          strategy,
          ...(tasks !== undefined && { tasks }),
        }),
      (result) => {
        const unsaid = rollbackUnsaid(result);
        if (unsaid !== undefined) this.state.note('info', unsaid);
      },
    );
  }

  private async nextRun(): Promise<void> {
    try {
      const runs = (await this.client.trpc.runs.list.query()).sort((a, b) =>
        a.createdAt.localeCompare(b.createdAt),
      );
      if (runs.length < 2) {
        this.say('info', 'no other run to switch to');
        return;
      }
      const at = runs.findIndex((r) => r.id === this.runId);
      this.runId = runs[(at + 1) % runs.length]!.id;
      this.state.note('info', `switching to run ${this.runId}`);
      await this.connect();
    } catch (error) {
      this.say('error', `listing runs failed: ${messageOf(error)}`);
    }
  }

  // ---- leaving ------------------------------------------------------------------------------------

  private close(outcome: AttachOutcome): void {
    if (this.closed) return;
    this.closed = true;
    this.generation++;
    this.rows.cancel();
    this.unfollow?.();
    this.unwatch?.();
    this.inbox.stop();
    clearTimeout(this.retryTimer);
    clearInterval(this.ticker);
    this.frames.stop();
    this.screen.destroy();
    this.guard.restore();
    const view = this.state.view;
    const reattach = (this.options.reattachCommand ?? ((id: string) => `orc attach ${id}`))(this.runId);
    const message = closingMessage(outcome === 'finished', this.runId, view, reattach, Date.now());
    (this.options.output ?? process.stdout).write(`${message}\n`);
    this.resolve({ outcome, runId: this.runId, message, status: view?.status });
  }
}

function messageOf(error: unknown): string {
  return oneLine(error instanceof Error ? error.message : String(error));
}
