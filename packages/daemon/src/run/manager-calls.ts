import { FinalReview, Plan, TaskReview, type ResolvedConfig, type TaskRecord, type Usage } from '@orc/shared';
import type * as z from 'zod';
import { ModelError } from '../model/model-error.js';
import { finalReviewPrompt, planPrompt, reviewPrompt } from '../model/prompts.js';
import type { ModelProvider } from '../model/provider.js';
import type { QuotaGovernor, QuotaWait } from '../quota/quota-governor.js';
import type { Clock } from '../clock.js';
import { Deadline } from './deadline.js';
import type { RunBudget } from './run-budget.js';

export interface ManagerCallsDeps {
  runId: string;
  provider: ModelProvider;
  /** The daemon's admission controller: every call waits for its quota and a place among the calls in flight. */
  governor: QuotaGovernor;
  /** A call of the run will wait a minute or more for its quota. */
  onQuotaWait: (wait: QuotaWait) => void;
  clock: Clock;
  budget: RunBudget;
  config: () => ResolvedConfig;
  /** The run's stable context for every prompt: the goal and the plan. */
  context: () => string;
}

/** A review and what it cost, for the task it reviewed (its budget counts reviews). */
export interface ReviewAnswer {
  review: TaskReview;
  usage: Usage;
  costUsd: number;
}

/** The final review was not made: it would take the run past its budget (`RunBudget.finalReviewOverBudget`). */
export class FinalReviewOverBudget extends Error {
  constructor(readonly expectedUsd: number) {
    super('the final review would pass the run budget');
  }
}

/**
 * The calls a run makes on the manager's model: the plan, the review of each task's result, and the
 * final review. Each is admitted by the daemon's quota governor and charged to the run.
 */
export class ManagerCalls {
  /** How long the final review's prompt is foreseen to be, while `key` (`foreseeFinalReview`) holds. */
  private foreseen: { key: string; chars: number } | undefined;

  constructor(private readonly deps: ManagerCallsDeps) {}

  /**
   * What the final review is foreseen to cost, for the run's forecast (a held run forecast $0.004 and
   * ended at $0.0059 once its final review was paid). Its prompt lists every task, so it is made again
   * only when `key` changes (the tasks' count, and their failures as they double: their errors are in it);
   * tasks kept as text are listed without parsing them, their errors left out.
   */
  foreseeFinalReview(
    planSummary: string,
    tasks: () => Iterable<Pick<TaskRecord, 'id' | 'status' | 'title' | 'error'>>,
    key: string,
  ): number {
    if (this.foreseen?.key !== key) {
      const { system, prompt } = finalReviewPrompt(this.deps.context(), { summary: planSummary }, tasks());
      this.foreseen = { key, chars: system.length + prompt.length };
    }
    return this.deps.budget.finalReviewGuess(this.deps.config().models.manager.model, this.foreseen.chars);
  }

  async plan(goal: string, feedback: string | undefined, signal: AbortSignal): Promise<string> {
    const { system, prompt } = planPrompt(goal, feedback);
    return (await this.call('plan', system, prompt, Plan, signal)).text;
  }

  async review(
    task: TaskRecord,
    result: string,
    diff: string | undefined,
    signal: AbortSignal,
  ): Promise<ReviewAnswer> {
    const { system, prompt } = reviewPrompt(this.deps.context(), task, result, diff);
    const { model } = this.deps.config().models.manager;
    this.deps.budget.checkTask(task, { kind: 'review', model, system, prompt });
    const answer = await this.call('review', system, prompt, TaskReview, signal);
    this.deps.budget.countReview(answer.costUsd);
    const parsed = TaskReview.safeParse(safeJson(answer.text));
    if (!parsed.success)
      throw new ModelError('recoverable', `the review of task ${task.id} did not match its schema`);
    return { review: parsed.data, usage: answer.usage, costUsd: answer.costUsd };
  }

  async finalReview(
    planSummary: string,
    tasks: readonly TaskRecord[],
    signal: AbortSignal,
  ): Promise<FinalReview> {
    const { system, prompt } = finalReviewPrompt(this.deps.context(), { summary: planSummary }, tasks);
    const { model } = this.deps.config().models.manager;
    const over = this.deps.budget.finalReviewOverBudget({ kind: 'review', model, system, prompt });
    if (over !== undefined) throw new FinalReviewOverBudget(over);
    const { text } = await this.call('final-review', system, prompt, FinalReview, signal);
    const parsed = FinalReview.safeParse(safeJson(text));
    if (!parsed.success) throw new ModelError('recoverable', 'the final review did not match its schema');
    return parsed.data;
  }

  private async call(
    purpose: 'plan' | 'final-review' | 'review',
    system: string,
    prompt: string,
    schema: z.ZodType,
    signal: AbortSignal,
  ): Promise<{ text: string; usage: Usage; costUsd: number }> {
    const { provider, governor, clock, budget } = this.deps;
    const { manager } = this.deps.config().models;
    const timeoutS = this.deps.config().execution.manager_timeout;
    const permit = await governor.admit(
      {
        runId: this.deps.runId,
        quota: provider.quotaOf?.(manager.model),
        call: { purpose, model: manager.model, system, prompt, maxTokens: manager.max_tokens },
        onLongWait: this.deps.onQuotaWait,
      },
      signal,
    );
    const deadline = new Deadline(clock, signal, timeoutS * 1000);
    try {
      const response = await provider.complete({
        purpose,
        model: manager.model,
        system,
        prompt,
        maxTokens: manager.max_tokens,
        outputSchema: schema,
        signal: deadline.signal,
        onRateLimits: permit.onRateLimits,
        onAnswer: permit.onAnswer,
      });
      const costUsd = budget.charge(response.usage, manager.model, response.costUsd);
      permit.succeeded(response.usage, costUsd);
      return { text: response.text, usage: response.usage, costUsd };
    } catch (error) {
      permit.failed(error);
      throw deadline.timedOut && !signal.aborted
        ? new ModelError('recoverable', `the manager did not answer within ${timeoutS}s`)
        : error;
    } finally {
      deadline.clear();
    }
  }
}

export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
