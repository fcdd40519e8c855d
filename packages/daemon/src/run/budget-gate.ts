import {
  plural,
  type NewEvent,
  type PauseReason,
  type RunStatus,
  type TaskRecord,
  type TaskStatus,
} from '@orc/shared';
import type { RunEvent } from '../actors/run.machine.js';
import { awaitsReview } from '../actors/task.machine.js';
import type { BudgetNeed, NextCall, Reservation, RunBudget, UnderWay, UnderWayText } from './run-budget.js';

/** What the gate needs of its run. */
export interface BudgetGateHost {
  readonly id: string;
  readonly budget: RunBudget;
  readonly status: RunStatus;
  readonly pauseReason: PauseReason | undefined;
  emit(event: NewEvent): void;
  send(event: RunEvent): void;
}

/**
 * The run's budget before each task starts: its attempt (unless its answer is in) and its review are
 * reserved, and the task starts only if they fit with what is under way; else the run pauses, and what
 * is under way then is what it may still spend. A reservation stands until the task leaves its attempt
 * and its review. While the run waits at its budget, what the pause says follows the work that lands.
 */
export class BudgetGate {
  private readonly reserved = new Map<string, Reservation>();
  /** What the agent of each task's attempt was handed to spend (`handOut`), while the attempt runs. */
  private readonly handed = new Map<string, number>();
  /** What the pause at the budget said, while the run waits there from here. */
  private told: string | undefined;
  /** The work that did not fit when the run paused, said again as what is under way lands. */
  private need: BudgetNeed | undefined;

  constructor(
    private readonly host: BudgetGateHost,
    private readonly statusOf: (id: string) => TaskStatus | undefined,
    /** The task's next attempt's call, for a reservation before any has come back. */
    private readonly nextCall: (id: string) => NextCall,
  ) {}

  /**
   * Whether the task may start within the budget (reserved if so); when it may not, the caller puts it
   * back, and the run pauses. While what a call costs is still a guess from its prompt and work is under
   * way, the run waits for that work instead: a guess paused a simulated run of three tasks with $0.0015
   * of $0.005 spent, where the run's averages had all three fit.
   */
  admit(task: TaskRecord): boolean {
    this.told = undefined;
    this.need = undefined;
    const { budget } = this.host;
    if (budget.limit === undefined) return true;
    const reserved = budget.reserve(() => this.nextCall(task.id));
    const attempting = !awaitsReview(task);
    const short = budget.shortfall(this, { reserved, attempting });
    if (short === undefined) {
      this.reserved.set(task.id, reserved);
      return true;
    }
    if (!budget.knowsCallCosts && this.reserved.size > 0) return false;
    // It fits what the agents under way are expected to spend, not all they were handed: what they leave
    // comes back as they land, so the run waits for them rather than pause.
    if (this.handed.size > 0 && budget.shortfall(this.expected(), { reserved, attempting }) === undefined)
      return false;
    const { costUsd, limit } = budget;
    // Reached, or only foreseen: a pause before a task that does not fit says so, and what it needs.
    if (costUsd >= limit) this.host.emit({ type: 'run.budget_exceeded', costUsd, limitUsd: limit });
    else {
      this.need = {
        what: `the next task (${task.id})`,
        usd: short.neededUsd,
        for: attempting ? 'its attempt and review' : 'its review',
      };
      this.host.emit({
        type: 'run.budget_would_exceed',
        costUsd,
        limitUsd: limit,
        neededUsd: short.neededUsd,
        underWayUsd: short.underWayUsd,
        nextTask: task.id,
      });
    }
    this.told = budget.describe(this.host.id, this.underWay(), this.need);
    this.host.send({ type: 'run.budget_reached', message: this.told });
    return false;
  }

  /** The task is no longer under way (put back before it started). */
  drop(taskId: string): void {
    this.reserved.delete(taskId);
    this.handed.delete(taskId);
  }

  /** A task moved: out of its attempt and its review, it has nothing left to pay. */
  moved(taskId: string, to: TaskStatus): void {
    if (to !== 'running') this.handed.delete(taskId);
    if (to !== 'running' && to !== 'reviewing') this.reserved.delete(taskId);
  }

  clear(): void {
    this.reserved.clear();
    this.handed.clear();
  }

  /**
   * The most the agent of the task's attempt may spend of the run's budget (Claude Code's `maxBudgetUsd`),
   * handed to it as the attempt starts: its attempt's reservation and an even share of what no task has
   * reserved, among the attempts under way not handed theirs yet and the `waiting` tasks that may start
   * beside them. Each agent was handed the run's whole remainder, so agents in parallel could together
   * pass it; what is handed counts as the attempt's cost until it lands (`admit` waits for it rather than
   * pause). Undefined when the run has no budget (or a person lifted it).
   */
  handOut(taskId: string, waiting: number): number | undefined {
    const { budget } = this.host;
    const left = budget.remaining();
    const own = this.reserved.get(taskId);
    if (left === undefined || own === undefined) return left;
    let others = 0;
    let sharing = 1 + waiting;
    for (const [id, work] of this.tasksUnderWay()) {
      if (id === taskId) continue;
      others += budget.owed(work);
      if (work.attempting && work.handedUsd === undefined) sharing += 1;
    }
    const review = budget.owed({ reserved: own, attempting: false });
    const attempt = budget.owed({ reserved: own, attempting: true }) - review;
    const unreserved = Math.max(0, left - others - attempt - review);
    const usd = Math.max(0, Math.min(left - others - review, attempt + unreserved / sharing));
    this.handed.set(taskId, usd);
    return usd;
  }

  /**
   * Work under way landed: while the run waits at its budget from here, the pause says what is spent now
   * and what is still under way (the inbox and `orc show` read it beside the run's cost; a trial's inbox
   * said $0.0077 spent while `orc show` said $0.0094), in the journal too.
   */
  landed(): void {
    if (this.told === undefined) return;
    if (this.host.status !== 'paused' || this.host.pauseReason !== 'budget') {
      this.told = undefined;
      return;
    }
    const message = this.host.budget.describe(this.host.id, this.underWay(), this.need);
    if (message === this.told) return;
    this.told = message;
    this.host.send({ type: 'run.budget_reached', message });
    this.host.emit({ type: 'run.paused', reason: 'budget', message });
  }

  /** Each task under way: what it was reserved at, whether its attempt is still to be paid, what it was handed. */
  *[Symbol.iterator](): Iterator<UnderWay> {
    for (const [, work] of this.tasksUnderWay()) yield work;
  }

  private *tasksUnderWay(): Generator<[string, UnderWay]> {
    for (const [id, reserved] of this.reserved) {
      const handedUsd = this.handed.get(id);
      const attempting = this.statusOf(id) !== 'reviewing';
      yield [id, { reserved, attempting, ...(handedUsd !== undefined && attempting && { handedUsd }) }];
    }
  }

  /** The tasks under way at what they are expected to cost, not what their agents were handed. */
  private *expected(): Generator<UnderWay> {
    for (const [, { reserved, attempting }] of this.tasksUnderWay()) yield { reserved, attempting };
  }

  /** What is under way, in words ("1 attempt and 2 reviews"; empty when nothing is), and what it owes. */
  private underWay(): UnderWayText {
    let attempts = 0;
    let reviews = 0;
    let usd = 0;
    for (const work of this) {
      if (work.attempting) attempts += 1;
      reviews += 1;
      usd += this.host.budget.owed(work);
    }
    const count = (n: number, what: string) => (n === 0 ? [] : [plural(n, what)]);
    return { text: [...count(attempts, 'attempt'), ...count(reviews, 'review')].join(' and '), usd };
  }
}
