import { ZERO_USAGE, type Attempt, type NewEvent, type ResolvedConfig } from '@orc/shared';
import type { Logger } from 'pino';
import { isoAt, type Clock } from '../clock.js';
import { CallCancelledError, ModelError } from '../model/model-error.js';
import { workPrompt } from '../model/prompts.js';
import type { ModelProvider } from '../model/provider.js';
import type { SlotPool } from '../scheduling/concurrency.js';
import type { GitWorkspace } from '../workspace/git-workspace.js';
import { Deadline } from './deadline.js';
import { OutputBatcher } from './output-batcher.js';
import type { RunBudget } from './run-budget.js';
import type { TaskSet } from './task-set.js';

export interface AttemptRunnerDeps {
  runId: string;
  provider: ModelProvider;
  slots: SlotPool;
  clock: Clock;
  logger: Logger;
  budget: RunBudget;
  tasks: TaskSet;
  config: () => ResolvedConfig;
  context: () => string;
  emit: (event: NewEvent) => void;
  /** The repository the run's agents edit, one worktree per attempt; absent for runs that only talk. */
  workspace: () => GitWorkspace | undefined;
}

/**
 * One attempt at a task: a fresh worktree from the integration head for agents that edit a repository,
 * the worker model's call with the task, its dependencies' results and any feedback, the attempt's
 * charge, and its commit and diff for the review. Every attempt, the first and each retry, is its own
 * numbered record on the task, announced with `task.assigned`.
 *
 * This is the seam where an attempt leaves the run: a remote worker backend runs the same call elsewhere.
 */
export class AttemptRunner {
  /** Each task's latest diff, for its review (repository runs). */
  private readonly diffs = new Map<string, string>();

  constructor(private readonly deps: AttemptRunnerDeps) {}

  diffOf(taskId: string): string | undefined {
    return this.diffs.get(taskId);
  }

  forget(taskId: string): void {
    this.diffs.delete(taskId);
  }

  async work(
    taskId: string,
    worker: number,
    maxTokens: number,
    signal: AbortSignal,
  ): Promise<{ text: string }> {
    const { tasks, clock, budget, emit } = this.deps;
    const config = this.deps.config();
    const task = tasks.get(taskId)!;
    const attempt: Attempt = {
      n: task.attempts.length + 1,
      worker,
      startedAt: isoAt(clock),
      outcome: 'running',
      usage: ZERO_USAGE,
      costUsd: 0,
    };
    const change = (what: Partial<Attempt>) =>
      tasks.send(taskId, { type: 'task.attempt_changed', n: attempt.n, change: what });
    tasks.send(taskId, { type: 'task.attempt_began', attempt });
    emit({ type: 'task.assigned', taskId, worker, attempt: attempt.n });
    const release = await this.deps.slots.acquire(signal);
    const deadline = new Deadline(clock, signal, config.execution.worker_timeout * 1000);
    const dependencies = task.dependencies.map((id) => tasks.get(id)!).filter((d) => d.status === 'done');
    const { system, prompt } = workPrompt(this.deps.context(), task, dependencies, task.feedback);
    const output = new OutputBatcher(clock, (text) => emit({ type: 'worker.output', taskId, worker, text }));
    const workspace = this.deps.workspace();
    let worktree: string | undefined;
    try {
      // A fresh worktree from the integration head: the task sees every dependency's merged work.
      if (workspace) worktree = (await workspace.prepareAttempt(taskId, attempt.n)).path;
      const response = await this.deps.provider.complete({
        purpose: 'work',
        model: config.models.worker.model,
        system,
        prompt,
        maxTokens,
        signal: deadline.signal,
        onText: (text) => output.push(text),
        ...(worktree !== undefined && { workdir: worktree }),
      });
      const cost = budget.charge(response.usage, config.models.worker.model, response.costUsd);
      budget.countAttempt(cost);
      change({ usage: response.usage, costUsd: cost });
      if (workspace) {
        await workspace.commitAttempt(taskId, attempt.n, `${task.id}: ${task.title}`);
        this.diffs.set(taskId, await workspace.diff(taskId));
      }
      change({ output: response.text, outcome: 'succeeded', endedAt: isoAt(clock) });
      return { text: response.text };
    } catch (error) {
      // A task taken back (cancel, pause, rollback) had its attempt marked by its own move.
      if (signal.aborted) throw new CallCancelledError('the attempt was stopped');
      const failure = deadline.timedOut
        ? new ModelError('recoverable', `the attempt timed out after ${config.execution.worker_timeout}s`)
        : error;
      change({ outcome: 'failed', error: describe(failure), endedAt: isoAt(clock) });
      throw failure;
    } finally {
      deadline.clear();
      output.flush();
      release();
      // Anything the agent left uncommitted is kept on the attempt branch before the worktree goes.
      if (workspace && worktree !== undefined) {
        await workspace.removeAttempt(taskId, attempt.n).catch((error: unknown) => {
          this.deps.logger.error(
            { err: error, runId: this.deps.runId, taskId },
            'could not remove a worktree',
          );
        });
      }
    }
  }
}

export function describe(error: unknown): {
  category: 'transient' | 'recoverable' | 'permanent';
  message: string;
} {
  if (error instanceof ModelError) return { category: error.category, message: error.message };
  return { category: 'permanent', message: error instanceof Error ? error.message : String(error) };
}
