import {
  addUsage,
  ceilCost,
  costFigure,
  formatCost,
  ZERO_USAGE,
  type ModelPrice,
  type TaskRecord,
  type Usage,
} from '@orc/shared';
import { ModelError } from '../model/model-error.js';
import { costOf } from '../model/pricing.js';
import type { RetryCap } from '../store/run-document.js';

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
  /** The run's id, for the commands its messages give; a plan's has none. */
  id?: string;
  usage: Usage;
  costUsd: number;
  /** A person resumed the run after its budget paused it: it goes on past the limit. */
  budgetLifted?: boolean | undefined;
  /** The cap each task needs to be retried, as first given (`RunBudget.neededCap`). */
  retryCaps?: Record<string, RetryCap> | undefined;
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
  /** Every call of each kind that came back, free ones too: what the run's reservations average over. */
  private readonly back = { attempt: 0, review: 0 };

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
    this.back.attempt += 1;
    if (costUsd <= 0) return;
    this.attempts.total += costUsd;
    this.attempts.count += 1;
  }

  /** A finished review's cost counts towards the next review's forecast. */
  countReview(costUsd: number): void {
    this.back.review += 1;
    if (costUsd <= 0) return;
    this.reviews.total += costUsd;
    this.reviews.count += 1;
  }

  /**
   * Fails the task's next call (its attempt or the review of it) before it is made when, at what such a
   * call costs on average, it would take the task past `max_task_cost_usd`: thrown as a permanent
   * ModelError, so the task fails with the reason and the run goes on. Before any such call has come
   * back, its cost is guessed at its prompt's input at the model's full price (not a floor: what the prompt
   * cache serves costs a tenth of it; not a ceiling: the answer is not counted): with nothing
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
    const call = next.kind === 'attempt' ? 'an attempt' : 'a review';
    const about =
      expected <= 0
        ? ''
        : seen.count > 0
          ? ` and ${call} costs about ${formatCost(expected)}`
          : ` and ${call} is guessed at ${formatCost(expected)} (its prompt at the full input price: none has come back yet)`;
    const kept = this.keptCap(task);
    const needed = this.neededCap(task, limit);
    // How the figure is made, in words a person can check: a trial could not tell where $0.0042 came from.
    const counted = kept === undefined ? `; ${this.countedRetry(task)}` : '';
    throw new ModelError(
      'permanent',
      `task ${task.id} would pass the cost cap of a task (${formatCost(limit)}, execution.max_task_cost_usd): it has cost ${formatCost(spent)}${about}${counted}; ${this.advice(task.id, needed, limit, limit)}`,
      { taskBudget: true, ...(next.kind === 'attempt' && { beforeAttempt: true }) },
    );
  }

  /**
   * What a task stopped at the cap (`underUsd`) is advised under the run's cap now (`limit`): the raise
   * and its command while the cap is under what a retry needs (`needed`), else a plain retry.
   */
  private advice(taskId: string, needed: number, underUsd: number, limit: number): string {
    if (limit >= needed - 1e-6)
      return `the cap is ${formatCost(limit)} now, enough for a retry: orc retry ${this.spend.id ?? '<run>'} ${taskId}`;
    const now = Math.abs(limit - underUsd) < 1e-9 ? '' : ` (the cap is ${formatCost(limit)} now)`;
    return `a retry needs a cap of ${formatCost(needed)}${now}: ${this.retryCommand(taskId, needed)}`;
  }

  /**
   * A stopped task's error with its advice (`checkTask`'s) as the run's cap now makes it, when that
   * differs: the cap changed since (a person raised it for another task). Undefined otherwise.
   */
  revisedError(task: Pick<TaskRecord, 'id' | 'attempts' | 'error'>): string | undefined {
    const kept = this.spend.retryCaps?.[task.id];
    const limit = this.taskLimitUsd;
    if (task.error === undefined || kept === undefined || limit === undefined) return undefined;
    if (Math.abs(kept.spentUsd - taskCost(task)) >= 1e-9) return undefined;
    const at = task.error.search(ADVICE);
    if (at < 0) return undefined;
    const error = `${task.error.slice(0, at)}; ${this.advice(task.id, kept.capUsd, kept.underUsd, limit)}`;
    return error === task.error ? undefined : error;
  }

  /** The command that raises the run's cap to `capUsd` and runs the task again. */
  retryCommand(taskId: string, capUsd: number): string {
    return `orc retry ${this.spend.id ?? '<run>'} ${taskId} --task-budget ${costFigure(capUsd)}`;
  }

  /** A call guessed before any like it came back: its prompt's input tokens (from its length) at full price. */
  private leastCostOf(call: NextCall): number {
    const inputTokens = Math.ceil((call.system.length + call.prompt.length) * TOKENS_PER_CHAR);
    return costOf({ ...ZERO_USAGE, inputTokens }, this.prices(call.model));
  }

  /**
   * The cap (`max_task_cost_usd`, USD) a retry of the task needs when the run's (or `limit`) is less;
   * undefined when that one is enough.
   */
  capToRetry(task: Pick<TaskRecord, 'id' | 'attempts'>, limit = this.taskLimitUsd): number | undefined {
    if (limit === undefined) return undefined;
    // Before any call is foreseen nothing says a retry would stop (its first call's check will), and a
    // figure of what it spent alone would be no advice: a trial's held task was offered a raise to $0.0001.
    if (!this.foresees() && this.spend.retryCaps?.[task.id] === undefined && taskCost(task) < limit - 1e-6)
      return undefined;
    const needed = this.neededCap(task, limit);
    return limit >= needed - 1e-6 ? undefined : needed;
  }

  /**
   * The one figure every surface gives for the cap a retry of the task needs (its failure, the inbox,
   * `orc retry`, `orc show`, the run's error): what it has cost, plus an attempt and its review
   * (`retryParts`), rounded up to the figure a text shows whole.
   *
   * The averages move as other tasks' calls end, and a restored run foresees nothing yet: a trial was
   * advised $0.0046 in the inbox and $0.0020 by `orc retry` for the same task. So the figure is kept with
   * the run's document (`retryCaps`) the first time it is given at the task's spend, and given again until
   * the task spends more. `limit` is the cap it is asked under (kept: a task under it stopped at it).
   */
  neededCap(task: Pick<TaskRecord, 'id' | 'attempts'>, limit = this.taskLimitUsd): number {
    const kept = this.keptCap(task);
    if (kept !== undefined) return kept.capUsd;
    const spent = taskCost(task);
    const { attempt, review } = this.retryParts();
    const capUsd = ceilCost(spent + attempt.usd + review.usd);
    // Kept only once a call was foreseen: a figure from nothing would stand until the task spends.
    if (this.foresees())
      (this.spend.retryCaps ??= {})[task.id] = { spentUsd: spent, capUsd, underUsd: limit ?? capUsd };
    return capUsd;
  }

  /** The figure kept for the task at what it has cost now (`neededCap`), if any. */
  private keptCap(task: Pick<TaskRecord, 'id' | 'attempts'>): RetryCap | undefined {
    const kept = this.spend.retryCaps?.[task.id];
    return kept !== undefined && Math.abs(kept.spentUsd - taskCost(task)) < 1e-9 ? kept : undefined;
  }

  /**
   * What a retry's attempt and its review are counted at: what such calls cost on average in the run.
   * With no call of a kind back yet, its foreseen cost is its prompt's alone and the answer's tokens come
   * on top (measured on the simulated model: an attempt 3× its prompt's cost, its review 4× the attempt's
   * prompt), so four times that: a figure that fails again at once is no advice (a new-user trial was told
   * $0.0001 against an attempt of $0.0003). A review never foreseen is counted as an attempt. Each part is
   * rounded up to the figure a text shows, so the parts a message names add up to no more than the cap.
   */
  private retryParts(): Record<'attempt' | 'review', { usd: number; how: string }> {
    const part = (kind: 'attempt' | 'review') => {
      const seen = average(kind === 'attempt' ? this.attempts : this.reviews) ?? 0;
      if (seen > 0) return { usd: ceilCost(seen), how: "the run's average" };
      const prompt = this.foreseen[kind];
      if (prompt > 0)
        return {
          usd: ceilCost(4 * prompt),
          how: `4× its prompt's ${formatCost(prompt)}, as no ${kind} has come back yet to price its answer`,
        };
      return undefined;
    };
    const attempt = part('attempt') ?? { usd: 0, how: 'none foreseen yet' };
    return { attempt, review: part('review') ?? { usd: attempt.usd, how: 'as an attempt' } };
  }

  /** How the task's retry figure is made (`neededCap`), each part with where it comes from. */
  private countedRetry(task: Pick<TaskRecord, 'attempts'>): string {
    const { attempt, review } = this.retryParts();
    return `a retry is counted as ${formatCost(taskCost(task))} spent + ${formatCost(attempt.usd)} for an attempt (${attempt.how}) + ${formatCost(review.usd)} for its review (${review.how}), rounded up`;
  }

  /** Whether the budget knows what a call costs: one came back, or one was foreseen from its prompt. */
  private foresees(): boolean {
    return this.attempts.count > 0 || this.foreseen.attempt > 0;
  }

  /**
   * The cap the task stopped at when that is why it failed, and is not the run's now (a person raised it
   * for another task): what its inbox item tells beside the task's own error, which names the old one.
   */
  stoppedAt(task: Pick<TaskRecord, 'id' | 'attempts'>): RetryCap | undefined {
    const kept = this.keptCap(task);
    return kept !== undefined && kept.underUsd < kept.capUsd - 1e-6 ? kept : undefined;
  }

  /** The tasks a retry figure is kept for (`neededCap`): those that stopped at the cap among them. */
  cappedTaskIds(): string[] {
    return Object.keys(this.spend.retryCaps ?? {});
  }

  /**
   * The figures kept for tasks that stopped under a cap less than they need (`stoppedAt`), read without
   * their records: what an inbox item offers for them all. `RunBudget.stoppedAt` checks each against the
   * task's spend; the answer does.
   */
  cappedFigures(): { taskId: string; capUsd: number }[] {
    return Object.entries(this.spend.retryCaps ?? {}).flatMap(([taskId, kept]) =>
      kept.underUsd < kept.capUsd - 1e-6 ? [{ taskId, capUsd: kept.capUsd }] : [],
    );
  }

  /**
   * A person runs the task again: the figure kept for it goes (a failure of the retry for another reason
   * at the same spend would otherwise read as the cap's), and its next stop at the cap gives one anew.
   */
  retried(taskId: string): void {
    if (this.spend.retryCaps) delete this.spend.retryCaps[taskId];
  }

  /**
   * Why a retry of the task would fail at once under a cap of `limit` (`capToRetry`), with the fix;
   * `asked` when `limit` is the figure a person just gave (`--task-budget`), not the run's cap.
   */
  retryRefusal(
    runId: string,
    task: Pick<TaskRecord, 'id' | 'attempts'>,
    limit = this.taskLimitUsd,
    asked = false,
  ): string | undefined {
    const enough = this.capToRetry(task, limit);
    if (enough === undefined) return undefined;
    const fix = `orc retry ${runId} ${task.id} --task-budget ${costFigure(enough)} (or more) raises the run's cap`;
    const needs = `a retry (an attempt and its review) needs ${formatCost(enough)}`;
    if (asked)
      return `--task-budget ${String(limit)} is not enough for task ${task.id}: it has cost ${formatCost(taskCost(task))} and ${needs}; ${fix}`;
    return `task ${task.id} has cost ${formatCost(taskCost(task))} of a ${formatCost(limit ?? 0)} cap (execution.max_task_cost_usd): ${needs}; ${fix}`;
  }

  /** The run's cap on one task's cost becomes `usd` (a person raised it). */
  setTaskLimit(usd: number): void {
    this.taskLimitUsd = usd;
  }

  /** What the task may still spend (USD) under `max_task_cost_usd`; undefined without one. */
  taskRemaining(task: Pick<TaskRecord, 'attempts'>): number | undefined {
    return this.taskLimitUsd === undefined ? undefined : Math.max(0, this.taskLimitUsd - taskCost(task));
  }

  /**
   * What a task's attempt and its review are reserved at before they start (`wouldExceed`): the run's
   * averages, or, before such a call has come back, as `retryParts` counts a retry's: an attempt 4× its
   * prompt's least cost, a review as an attempt. `work` is asked only then.
   */
  reserve(work: () => NextCall): Reservation {
    const attempt = this.averageOf('attempt');
    const review = this.averageOf('review');
    if (attempt !== undefined && review !== undefined) return { attemptUsd: attempt, reviewUsd: review };
    const attemptUsd = attempt ?? 4 * this.leastCostOf(work());
    return { attemptUsd, reviewUsd: review ?? attemptUsd };
  }

  /** Whether an attempt and a review have come back: a reservation is the run's averages, not a guess. */
  get knowsCallCosts(): boolean {
    return this.back.attempt > 0 && this.back.review > 0;
  }

  /** What a call of the kind cost the run on average, free ones counted; undefined before one came back. */
  private averageOf(kind: 'attempt' | 'review'): number | undefined {
    const total = (kind === 'attempt' ? this.attempts : this.reviews).total;
    return this.back[kind] > 0 ? total / this.back[kind] : undefined;
  }

  /**
   * Whether starting `next` would take the run past its limit, with what is under way still to be paid:
   * each task's attempt while it runs and its review, at the run's averages once such a call came back,
   * else at what they were reserved at. Only the attempts were counted, and only once one came back: a
   * trial's run paused at $0.0077 of $0.005, and two reviews under way took it to $0.0094.
   */
  wouldExceed(underWay: Iterable<UnderWay>, next: UnderWay): boolean {
    return this.shortfall(underWay, next) !== undefined;
  }

  /**
   * Why `next` may not start within the run's limit (`wouldExceed`): what it needs and what the work
   * under way is still expected to cost, for the pause to say; undefined when it fits.
   */
  shortfall(underWay: Iterable<UnderWay>, next: UnderWay): Shortfall | undefined {
    const limit = this.limitUsd;
    if (limit === undefined || this.spend.budgetLifted === true) return undefined;
    const neededUsd = this.owed(next);
    let underWayUsd = 0;
    for (const work of underWay) underWayUsd += this.owed(work);
    // Within a millionth of a dollar is within: sums of prices are not exact in floating point.
    if (this.spend.costUsd < limit && this.spend.costUsd + underWayUsd + neededUsd <= limit + 1e-6)
      return undefined;
    return { neededUsd, underWayUsd };
  }

  /**
   * What work under way is still expected to cost (`wouldExceed`): an attempt whose agent was handed a
   * budget of its own (`handedUsd`) may spend all of it.
   */
  owed({ reserved, attempting, handedUsd }: UnderWay): number {
    const review = this.averageOf('review') ?? reserved.reviewUsd;
    if (!attempting) return review;
    return (handedUsd ?? this.averageOf('attempt') ?? reserved.attemptUsd) + review;
  }

  /**
   * What the run's final review is foreseen to cost when it would take the run past its budget (not
   * lifted by a person), else undefined: what the run's reviews cost on average, and at least 4× its
   * prompt's input, as an attempt's answer is guessed before any came back (its prompt holds every task, so
   * a task's review says little of it: a trial's $0.005 run, its reviews at $0.0008, completed at $0.0057).
   * Checked before the call, as an attempt is.
   */
  finalReviewOverBudget(call: NextCall): number | undefined {
    const limit = this.limitUsd;
    if (limit === undefined || this.spend.budgetLifted === true) return undefined;
    const expected = this.finalReviewGuess(call.model, call.system.length + call.prompt.length);
    return this.spend.costUsd + expected > limit + 1e-6 ? expected : undefined;
  }

  /**
   * What the final review is foreseen to cost (`finalReviewOverBudget`, the run's forecast), its prompt
   * (system and prompt) `promptChars` long: the run's average review, and at least 4× its prompt's input.
   */
  finalReviewGuess(model: string, promptChars: number): number {
    const least = costOf(
      { ...ZERO_USAGE, inputTokens: Math.ceil(promptChars * TOKENS_PER_CHAR) },
      this.prices(model),
    );
    return Math.max(average(this.reviews) ?? 0, 4 * least);
  }

  /** Why the run waits before its final review (`finalReviewOverBudget`), with what a person can do. */
  describeFinalReview(runId: string, expectedUsd: number): string {
    return this.describe(runId, undefined, { what: 'the final review', usd: expectedUsd });
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

  get taskLimit(): number | undefined {
    return this.taskLimitUsd;
  }

  /**
   * What the pause at the budget says; `underWay`: the attempts and reviews it let finish, still to be
   * paid (the message is told again as they land, so it gives what `orc show` does); `need`: the work
   * that did not fit, when the limit is not reached yet (a trial read `run.budget_exceeded $0.0013 of
   * $0.003`, with nothing saying a task's reservation was what did not fit).
   */
  describe(runId: string, underWay: UnderWayText = { text: '', usd: 0 }, need?: BudgetNeed): string {
    const spent = `spent ${formatCost(this.spend.costUsd)} of the ${formatCost(this.limitUsd ?? 0)} budget`;
    const still = `${underWay.text} still under way`;
    const owed = formatCost(underWay.usd);
    const why =
      need === undefined
        ? underWay.text === ''
          ? spent
          : `${spent} (${still}, about ${owed})`
        : `${spent}, and ${need.what} needs about ${formatCost(need.usd)}${need.for === undefined ? '' : ` for ${need.for}`}, which does not fit${underWay.text === '' ? '' : ` beside the ${still} (about ${owed})`}`;
    const limit = this.limitUsd ?? 0;
    // The work under way landed for less than it was reserved at: the run may go on within the same budget.
    if (need !== undefined && underWay.text === '' && this.spend.costUsd + need.usd <= limit + 1e-6)
      return `${spent}, and ${need.what} needs about ${formatCost(need.usd)}, which fits now that the work under way has landed; orc resume ${runId} --budget ${costFigure(limit)} goes on within it (without --budget: past it)`;
    return `${why}; orc resume ${runId} --budget <usd> goes on within a new one, without --budget past it`;
  }
}

/** The work under way at a pause, in words ("1 attempt and 2 reviews"; empty: none) and what it owes. */
export interface UnderWayText {
  text: string;
  usd: number;
}

/** Work that did not fit the budget: "the next task (t3)" or "the final review", and its cost. */
export interface BudgetNeed {
  what: string;
  usd: number;
  /** What the cost is of: "its attempt and review". */
  for?: string;
}

/** Why work may not start within the budget (`RunBudget.shortfall`). */
export interface Shortfall {
  /** What the work is expected to cost. */
  neededUsd: number;
  /** What the work under way is still expected to cost. */
  underWayUsd: number;
}

/** What a task's attempt and its review are expected to cost, as reserved before it starts. */
export interface Reservation {
  attemptUsd: number;
  reviewUsd: number;
}

/** A task under way, for the budget: its reservation, and whether its attempt is still to be paid. */
export interface UnderWay {
  reserved: Reservation;
  attempting: boolean;
  /** What its attempt's agent may spend, when it was handed a budget of its own (`BudgetGate.handOut`). */
  handedUsd?: number;
}

function average(seen: { total: number; count: number }): number | undefined {
  return seen.count > 0 ? seen.total / seen.count : undefined;
}

/** Where `checkTask`'s advice begins in a task's error (its last part: a command has no semicolon). */
const ADVICE = /; (?:a retry needs a cap of|the cap is) [^;]*$/;
