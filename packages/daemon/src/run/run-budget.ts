import { addUsage, ZERO_USAGE, type ModelPrice, type TaskRecord, type Usage } from '@orc/shared';
import { ModelError } from '../model/model-error.js';
import { costOf } from '../model/pricing.js';

/** A call about to be made, as the task budget foresees it. */
export interface NextCall {
  kind: 'attempt' | 'review';
  model: string;
  system: string;
  prompt: string;
}

/**
 * Tokens a character of prompt is, before a call has come back to tell (English runs about four characters
 * a token; the quota's TokenEstimator measures each model's own figure as calls come back).
 */
const TOKENS_PER_CHAR = 0.25;

/** What the budget reads and writes of the run's document. */
export interface SpendRecord {
  usage: Usage;
  costUsd: number;
  /** A person resumed the run after its budget paused it: it goes on past the limit. */
  budgetLifted?: boolean | undefined;
}

/** What a task has cost: each attempt's work and its review. */
export function taskCost(task: Pick<TaskRecord, 'attempts'>): number {
  return task.attempts.reduce((sum, attempt) => sum + attempt.costUsd, 0);
}

/**
 * A run's spend: every call's usage and cost added to the run's totals, the average cost of an attempt
 * and of a review, the check that pauses a run before its next attempt would pass `max_cost_usd`, and the
 * one that fails a task before its next call would pass `max_task_cost_usd`.
 */
export class RunBudget {
  private attempts = { total: 0, count: 0 };
  private reviews = { total: 0, count: 0 };

  constructor(
    private readonly spend: SpendRecord,
    private limitUsd: number | undefined,
    private readonly prices: (model: string) => ModelPrice | undefined,
    /** `execution.max_task_cost_usd`. */
    private taskLimitUsd: number | undefined = undefined,
  ) {}

  get costUsd(): number {
    return this.spend.costUsd;
  }

  get limit(): number | undefined {
    return this.limitUsd;
  }

  /** What a call costs: as the provider reported it, else priced from the table. */
  costOf(usage: Usage, model: string, reportedCost?: number): number {
    return reportedCost ?? costOf(usage, this.prices(model));
  }

  /** Adds a call to the run; its cost as the provider reported it, else priced from the table. */
  charge(usage: Usage, model: string, reportedCost?: number): number {
    const cost = this.costOf(usage, model, reportedCost);
    this.spend.usage = addUsage(this.spend.usage, usage);
    this.spend.costUsd += cost;
    return cost;
  }

  /** What an attempt and a review were last foreseen to cost (`checkTask`), for a retry's advice. */
  private readonly foreseen = { attempt: 0, review: 0 };

  /** A finished attempt's cost counts towards the next attempt's forecast. */
  countAttempt(costUsd: number): void {
    if (costUsd <= 0) return;
    this.attempts.total += costUsd;
    this.attempts.count += 1;
  }

  /** A finished review's cost counts towards the next review's forecast. */
  countReview(costUsd: number): void {
    if (costUsd <= 0) return;
    this.reviews.total += costUsd;
    this.reviews.count += 1;
  }

  /**
   * Fails the task's next call (its attempt or the review of it) before it is made when, at what such a
   * call costs on average, it would take the task past `max_task_cost_usd`: thrown as a permanent
   * ModelError, so the task fails with the reason and the run goes on. Before any such call has come
   * back, its cost is its prompt's input at the model's price (what it costs at least): with nothing
   * foreseen, the run's first task went past its cap on its first review ($0.0014 of a $0.001 cap).
   */
  checkTask(task: Pick<TaskRecord, 'id' | 'attempts'>, next: NextCall): void {
    const limit = this.taskLimitUsd;
    if (limit === undefined) return;
    const spent = taskCost(task);
    const seen = next.kind === 'attempt' ? this.attempts : this.reviews;
    const expected = seen.count > 0 ? seen.total / seen.count : this.leastCostOf(next);
    this.foreseen[next.kind] = expected;
    // Within a millionth of a dollar is within: sums of prices are not exact in floating point.
    if (spent < limit - 1e-6 && spent + expected <= limit + 1e-6) return;
    const about =
      expected > 0
        ? `, and ${next.kind === 'attempt' ? 'an attempt' : 'a review'} costs about $${expected.toFixed(4)}`
        : '';
    throw new ModelError(
      'permanent',
      `task ${task.id} would pass its budget: it has cost $${spent.toFixed(4)} of execution.max_task_cost_usd $${limit}${about}`,
      { taskBudget: true, ...(next.kind === 'attempt' && { beforeAttempt: true }) },
    );
  }

  /** What a call costs at least: its prompt's input tokens, estimated from its length. */
  private leastCostOf(call: NextCall): number {
    const inputTokens = Math.ceil((call.system.length + call.prompt.length) * TOKENS_PER_CHAR);
    return costOf({ ...ZERO_USAGE, inputTokens }, this.prices(call.model));
  }

  /**
   * The cap (`max_task_cost_usd`, USD) a retry of the task needs when one under `limit` would fail at once
   * (its spend so far, plus what an attempt costs on average, passes it); undefined when it would not.
   */
  capToRetry(task: Pick<TaskRecord, 'attempts'>, limit = this.taskLimitUsd): number | undefined {
    if (limit === undefined) return undefined;
    const spent = taskCost(task);
    const average = (seen: { total: number; count: number }) =>
      seen.count > 0 ? seen.total / seen.count : 0;
    const attempt = average(this.attempts) || this.foreseen.attempt;
    if (spent < limit - 1e-6 && spent + attempt <= limit + 1e-6) return undefined;
    // The advice covers an attempt and its review: a figure that fails again at once is no advice (a
    // new-user trial was told $0.0001 against an attempt of $0.0003). With no call of a kind back yet,
    // its foreseen cost is its prompt's alone; the answer's tokens come on top (measured on the simulated
    // model: an attempt 3× its prompt's cost, its review 4× the attempt's prompt), so four times that; a
    // review never foreseen is taken to cost what an attempt does. Rounded up to a cent's hundredth.
    const attemptCost = average(this.attempts) || 4 * this.foreseen.attempt;
    const reviewCost = average(this.reviews) || 4 * this.foreseen.review || attemptCost;
    return Math.ceil((spent + attemptCost + reviewCost) * 10_000 + 1) / 10_000;
  }

  /** Why a retry of the task would fail at once under a cap of `limit` (`capToRetry`), with the fix. */
  retryRefusal(
    runId: string,
    task: Pick<TaskRecord, 'id' | 'attempts'>,
    limit = this.taskLimitUsd,
  ): string | undefined {
    const enough = this.capToRetry(task, limit);
    if (enough === undefined) return undefined;
    return `task ${task.id} has cost $${taskCost(task).toFixed(4)} of a $${limit} cap (execution.max_task_cost_usd), so a retry would fail at once: orc retry ${runId} ${task.id} --task-budget ${enough.toFixed(4)} (or more) raises the run's cap`;
  }

  /** The run's cap on one task's cost becomes `usd` (a person raised it). */
  setTaskLimit(usd: number): void {
    this.taskLimitUsd = usd;
  }

  /** What the task may still spend (USD) under `max_task_cost_usd`; undefined without one. */
  taskRemaining(task: Pick<TaskRecord, 'attempts'>): number | undefined {
    return this.taskLimitUsd === undefined ? undefined : Math.max(0, this.taskLimitUsd - taskCost(task));
  }

  /** Whether one more attempt, with `inFlight` others still to be paid for, would pass the limit. */
  wouldExceed(inFlight: number): boolean {
    const limit = this.limitUsd;
    if (limit === undefined || this.spend.budgetLifted === true) return false;
    const average = this.attempts.count > 0 ? this.attempts.total / this.attempts.count : 0;
    return this.spend.costUsd >= limit || this.spend.costUsd + average * (inFlight + 1) > limit;
  }

  /**
   * What the run may still spend (USD), for a provider that can stop a call at a budget itself (Claude
   * Code's `maxBudgetUsd`); undefined when the run has no budget, or a person lifted it.
   */
  remaining(): number | undefined {
    if (this.limitUsd === undefined || this.spend.budgetLifted === true) return undefined;
    return Math.max(0, this.limitUsd - this.spend.costUsd);
  }

  /** The run goes on within a new limit. */
  setLimit(usd: number): void {
    this.limitUsd = usd;
    this.spend.budgetLifted = false;
  }

  /** A person chose to go on past the limit. */
  lift(): void {
    this.spend.budgetLifted = true;
  }

  describe(runId: string): string {
    return `spent $${this.spend.costUsd.toFixed(4)} of the $${this.limitUsd} budget; orc resume ${runId} --budget <usd> goes on within a new one, without --budget past it`;
  }
}
