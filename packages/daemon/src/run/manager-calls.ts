import { FinalReview, Plan, TaskReview, type ResolvedConfig, type TaskRecord } from '@orc/shared';
import type * as z from 'zod';
import { ModelError } from '../model/model-error.js';
import { finalReviewPrompt, planPrompt, reviewPrompt } from '../model/prompts.js';
import type { ModelProvider } from '../model/provider.js';
import type { SlotPool } from '../scheduling/concurrency.js';
import type { Clock } from '../clock.js';
import { Deadline } from './deadline.js';
import type { RunBudget } from './run-budget.js';

export interface ManagerCallsDeps {
  provider: ModelProvider;
  slots: SlotPool;
  clock: Clock;
  budget: RunBudget;
  config: () => ResolvedConfig;
  /** The run's stable context for every prompt: the goal and the plan. */
  context: () => string;
}

/**
 * The calls a run makes on the manager's model: the plan, the review of each task's result, and the
 * final review. Each takes a slot of the daemon's budget of calls in flight and is charged to the run.
 */
export class ManagerCalls {
  constructor(private readonly deps: ManagerCallsDeps) {}

  plan(goal: string, feedback: string | undefined, signal: AbortSignal): Promise<string> {
    const { system, prompt } = planPrompt(goal, feedback);
    return this.call('plan', system, prompt, Plan, signal);
  }

  async review(
    task: TaskRecord,
    result: string,
    diff: string | undefined,
    signal: AbortSignal,
  ): Promise<TaskReview> {
    const { system, prompt } = reviewPrompt(this.deps.context(), task, result, diff);
    const answer = await this.call('review', system, prompt, TaskReview, signal);
    const parsed = TaskReview.safeParse(safeJson(answer));
    if (!parsed.success)
      throw new ModelError('recoverable', `the review of task ${task.id} did not match its schema`);
    return parsed.data;
  }

  async finalReview(
    planSummary: string,
    tasks: readonly TaskRecord[],
    signal: AbortSignal,
  ): Promise<FinalReview> {
    const { system, prompt } = finalReviewPrompt(this.deps.context(), { summary: planSummary }, tasks);
    const text = await this.call('final-review', system, prompt, FinalReview, signal);
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
  ): Promise<string> {
    const { provider, slots, clock, budget } = this.deps;
    const { manager } = this.deps.config().models;
    const timeoutS = this.deps.config().execution.manager_timeout;
    const release = await slots.acquire(signal);
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
      });
      budget.charge(response.usage, manager.model, response.costUsd);
      return response.text;
    } catch (error) {
      throw deadline.timedOut && !signal.aborted
        ? new ModelError('recoverable', `the manager did not answer within ${timeoutS}s`)
        : error;
    } finally {
      deadline.clear();
      release();
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
