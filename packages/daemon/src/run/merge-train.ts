import type { NewEvent, TrainView } from '@orc/shared';
import type { Logger } from 'pino';
import type { GitWorkspace, StackResult } from '../workspace/git-workspace.js';
import { runVerify, verifyReason, type VerifyOutcome } from '../workspace/verify-command.js';

/** What the train needs of its run. */
export interface TrainHost {
  readonly runId: string;
  readonly logger: Logger;
  workspace(): GitWorkspace | undefined;
  /** `integration.verify`, its timeout in seconds, and how many tasks one verify may take. */
  settings(): { command: string; timeoutSeconds: number; batch: number };
  /** The run is executing: the train may start a verify (a paused run's train waits). */
  mayRun(): boolean;
  /** The task still waits to land (not cancelled, interrupted or rolled back meanwhile). */
  stillMerging(taskId: string): boolean;
  /** Longest remaining critical path first: the order waiting tasks go in. */
  rank(taskId: string): number;
  emit(event: NewEvent): void;
  landed(taskId: string): void;
  conflicted(taskId: string, conflict: string, files: string[]): void;
  rejected(taskId: string, feedback: string, reason: string): void;
  failed(taskId: string, error: string): void;
  /** The verify cannot run, or the integration head fails it: nothing a task can fix. */
  broken(message: string): void;
  /** After each verdict: save, and let the scheduler go on (or settle). */
  changed(): void;
  /** Runs `work` in turn with the run's other reads and moves of the integration head (a checkpoint's). */
  inTurn<T>(work: () => Promise<T>): Promise<T>;
}

type Verdict = 'landed' | 'rejected' | 'paused';

/**
 * The test-gated merge train of a repository run with `integration.verify`. Accepted tasks wait here in
 * critical-path order; up to `verify_batch` of them are merged onto the integration head in the train's
 * worktree (one commit each) and the command runs there; only a pass moves `orc/<run>`, to exactly the
 * commit that passed. A failing batch is split in halves until the culprit is alone; a lone failure goes
 * back to its worker with the output tail. The head itself is verified first whenever the train has not
 * seen it pass (a new run, a restart, a rollback): if it fails, or the command cannot run (exit 126/127),
 * the run pauses for a person, since sending tasks back could not help.
 */
export class MergeTrain {
  private readonly waiting = new Set<string>();
  private verifying: { taskIds: string[]; commit: string; since: string } | undefined;
  private last: TrainView['last'];
  /** The last integration commit seen to pass: a head that differs is verified before anything lands on it. */
  private knownGood: string | undefined;
  private running: Promise<void> | undefined;
  private stopping = new AbortController();
  /** Stops the verify under way without stopping the train (its tasks were taken back). */
  private current: AbortController | undefined;

  constructor(private readonly host: TrainHost) {}

  /** An accepted task joins the train. */
  enqueue(taskId: string): void {
    this.waiting.add(taskId);
    this.kick();
  }

  /** Starts the train if it has work and may run (a task joined, the run resumed). */
  kick(): void {
    if (this.running || this.stopping.signal.aborted) return;
    this.running = this.drive()
      .catch((error: unknown) =>
        this.host.logger.error({ err: error, runId: this.host.runId }, 'merge train failed'),
      )
      .finally(() => {
        this.running = undefined;
        if (this.pending().length > 0 && this.host.mayRun()) this.kick();
      });
  }

  /** A verify is under way, or tasks wait for one. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Resolves once no verify is under way. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Its tasks were taken back (cancel, rollback): the verify under way is killed and nothing of it lands. */
  interrupt(): void {
    this.current?.abort();
  }

  /** The daemon stops: the verify under way is killed; its tasks stay merging for the restore to redo. */
  async stop(): Promise<void> {
    this.stopping.abort();
    this.current?.abort();
    await this.idle();
  }

  view(): TrainView | undefined {
    if (!this.verifying && !this.last) return undefined;
    return {
      ...(this.verifying && { verifying: { ...this.verifying } }),
      ...(this.last && { last: this.last }),
    };
  }

  /** Waiting tasks still merging, best first. */
  private pending(): string[] {
    for (const id of this.waiting) if (!this.host.stillMerging(id)) this.waiting.delete(id);
    return [...this.waiting].sort((a, b) => this.host.rank(b) - this.host.rank(a));
  }

  private async drive(): Promise<void> {
    for (;;) {
      const workspace = this.host.workspace();
      if (!workspace) return;
      const head = await workspace.head();
      // Read after an await: tasks accepted together (in the same turn) go in one batch.
      const next = this.pending();
      if (next.length === 0 || !this.host.mayRun() || this.stopping.signal.aborted) return;
      if (this.knownGood !== head) {
        const outcome = await this.verify(workspace, [], head);
        if (!outcome) return;
        if (!outcome.passed) {
          const why = outcome.cannotRun ? 'cannot run' : `fails on ${workspace.branch} before any merge`;
          this.host.broken(
            `integration.verify ${why} (${verifyReason(outcome, this.host.settings().timeoutSeconds)}); ` +
              `fix the command or the branch, then orc resume ${this.host.runId}`,
          );
          return;
        }
        this.knownGood = head;
      }
      const batch = next.slice(0, this.host.settings().batch);
      for (const id of batch) this.waiting.delete(id);
      const verdict = await this.tryBatch(workspace, head, batch);
      // Neither landed nor sent back (a pause, a task of the batch interrupted): they wait again.
      for (const id of batch) if (this.host.stillMerging(id)) this.waiting.add(id);
      if (verdict === 'paused') return;
    }
  }

  /** Lands what of `taskIds` passes on top of `head`: all at once, or by halves to find the culprit. */
  private async tryBatch(
    workspace: GitWorkspace,
    head: string,
    taskIds: readonly string[],
  ): Promise<Verdict> {
    const ids = taskIds.filter((id) => this.host.stillMerging(id));
    if (ids.length === 0) return 'landed';
    let stack: StackResult;
    try {
      stack = await workspace.stack(head, ids);
    } catch (error) {
      for (const id of ids) this.host.failed(id, `could not merge: ${messageOf(error)}`);
      this.host.changed();
      return 'rejected';
    }
    for (const { taskId, conflict, files } of stack.conflicts) this.host.conflicted(taskId, conflict, files);
    const stacked = stack.stacked.map((entry) => entry.taskId);
    if (stack.conflicts.length > 0) this.host.changed();
    if (stacked.length === 0) return 'rejected';
    // Nothing to verify when the tasks change nothing: the head passed already.
    const outcome = stack.tip === head ? undefined : await this.verify(workspace, stacked, stack.tip);
    if (stack.tip !== head && !outcome) return 'paused';
    if (outcome?.cannotRun) {
      this.host.broken(
        `integration.verify cannot run (${verifyReason(outcome, this.host.settings().timeoutSeconds)}); ` +
          `fix the command, then orc resume ${this.host.runId}`,
      );
      return 'paused';
    }
    if (!outcome || outcome.passed) return this.land(workspace, head, stack);
    if (stacked.length === 1) {
      const reason = verifyReason(outcome, this.host.settings().timeoutSeconds);
      this.host.rejected(
        stacked[0]!,
        `integration.verify (${this.host.settings().command}) failed with your change merged onto ${workspace.branch} ` +
          `(${reason}); fix it so the command passes. The end of its output:\n${outcome.tail}`,
        reason,
      );
      this.host.changed();
      return 'rejected';
    }
    const half = Math.ceil(stacked.length / 2);
    const first = await this.tryBatch(workspace, head, stacked.slice(0, half));
    if (first === 'paused') return 'paused';
    return this.tryBatch(workspace, await workspace.head(), stacked.slice(half));
  }

  private land(workspace: GitWorkspace, head: string, stack: StackResult): Promise<Verdict> {
    // The branch moves and the tasks are done in one turn: a checkpoint never sees one without the other.
    return this.host.inTurn(async () => {
      // Only tasks still merging land: one interrupted meanwhile (a rollback) restacks on the next turn.
      const gone = stack.stacked.filter((entry) => !this.host.stillMerging(entry.taskId));
      if (gone.length > 0) return 'rejected';
      if (!(await workspace.land(stack.tip, head, stack.stacked))) return 'rejected';
      this.knownGood = stack.tip;
      const taskIds = stack.stacked.map((entry) => entry.taskId);
      if (stack.tip !== head) this.host.emit({ type: 'train.landed', taskIds, commit: stack.tip });
      for (const id of taskIds) this.host.landed(id);
      this.host.changed();
      return 'landed';
    });
  }

  /** Runs the verify on `commit` in the train's worktree; undefined when the train was stopped. */
  private async verify(
    workspace: GitWorkspace,
    taskIds: string[],
    commit: string,
  ): Promise<VerifyOutcome | undefined> {
    const { command, timeoutSeconds } = this.host.settings();
    const since = new Date().toISOString();
    this.verifying = { taskIds, commit, since };
    this.host.emit({ type: 'train.verifying', taskIds, commit });
    let outcome: VerifyOutcome;
    const current = (this.current = new AbortController());
    try {
      const path = await workspace.checkoutTrain(commit);
      outcome = await runVerify(command, path, {
        timeoutMs: timeoutSeconds * 1000,
        signal: current.signal,
      });
    } catch (error) {
      // The checkout itself failed (a full disk, a locked worktree): no task's fault either.
      const tail = `could not check out ${commit.slice(0, 12)} for the verify: ${messageOf(error)}`;
      outcome = { passed: false, exitCode: null, timedOut: false, cannotRun: true, tail, durationMs: 0 };
    } finally {
      this.verifying = undefined;
      this.current = undefined;
    }
    if (this.stopping.signal.aborted || current.signal.aborted) return undefined;
    const reason = outcome.passed ? undefined : verifyReason(outcome, timeoutSeconds);
    this.last = {
      taskIds,
      commit,
      passed: outcome.passed,
      at: new Date().toISOString(),
      ...(reason !== undefined && { reason }),
    };
    this.host.emit({
      type: 'train.verified',
      taskIds,
      commit,
      passed: outcome.passed,
      exitCode: outcome.exitCode,
      timedOut: outcome.timedOut,
      durationMs: outcome.durationMs,
      ...(reason !== undefined && { reason }),
    });
    return outcome;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
