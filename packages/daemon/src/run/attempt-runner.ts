import {
  formatCost,
  ZERO_USAGE,
  type Attempt,
  type AttemptError,
  type NewEvent,
  type ProviderName,
  type ResolvedConfig,
  type TaskRecord,
  nextAttemptNumber,
} from '@orc/shared';
import type { Logger } from 'pino';
import { isoAt, type Clock } from '../clock.js';
import { CallCancelledError, ModelError } from '../model/model-error.js';
import { workPrompt } from '../model/prompts.js';
import type { ModelResponse } from '../model/provider.js';
import type { QuotaPermit, QuotaWait } from '../quota/quota-governor.js';
import { attemptJobId, type AttemptBackend, type AttemptJob } from './attempt-backend.js';
import type { GitWorkspace } from '../workspace/git-workspace.js';
import { AgentAttempts, pausesTheRun, type AgentSide, type AttemptRecord } from './agent-attempts.js';
import { agentToolsOf } from '../remote/attempt-wire.js';
import type { AttemptChange } from '../actors/task.machine.js';
import { Deadline } from './deadline.js';
import type { PermissionDesk } from '../inbox/permission-desk.js';
import type { ToolPermissions } from '../model/tool-permissions.js';
import { OutputBatcher } from './output-batcher.js';
import type { NextCall, RunBudget } from './run-budget.js';
import type { TaskSet } from './task-set.js';

export interface AttemptRunnerDeps {
  /** The run is closing: an agent cut off now keeps its worktree for its session to go on after a restart. */
  closing: () => boolean;
  runId: string;
  /** The provider the run names for its workers. */
  provider: ProviderName;
  /** Where attempts are admitted and made: in the daemon, or by workers elsewhere. */
  backend: AttemptBackend;
  /** A call of the run will wait a minute or more for its quota. */
  onQuotaWait: (wait: QuotaWait) => void;
  clock: Clock;
  logger: Logger;
  budget: RunBudget;
  /** What a Claude Code agent may spend of the run's budget on the task's attempt (`BudgetGate.handOut`). */
  agentBudget: (taskId: string) => number | undefined;
  tasks: TaskSet;
  config: () => ResolvedConfig;
  context: () => string;
  /** `at`: the time the change the event tells was stamped with. */
  emit: (event: NewEvent, at?: string) => void;
  /** The repository the run's agents edit, one worktree per attempt; absent for runs that only talk. */
  workspace: () => GitWorkspace | undefined;
  /** Where an agent's tool call outside its rules is put to a person (the daemon's inbox). */
  permissions?: PermissionDesk;
}

/**
 * One attempt at a task: a fresh worktree from the integration head for agents that edit a repository,
 * the worker model's call with the task, its dependencies' results and any feedback, the attempt's
 * charge, and its commit and diff for the review, journalled with the answer (`task.worked`). Every
 * attempt, the first and each retry, is its own numbered record on the task, announced with
 * `task.assigned`.
 *
 * This is the seam where an attempt leaves the run: a remote worker backend runs the same call elsewhere.
 */
export class AttemptRunner {
  /** Claude Code attempts: worktrees, sessions (resumed after a crash or a pause), refusals. */
  private readonly agents: AgentAttempts;

  constructor(private readonly deps: AttemptRunnerDeps) {
    this.agents = new AgentAttempts({
      workspace: deps.workspace,
      emit: deps.emit,
      logger: deps.logger,
      ...(deps.backend.runsElsewhere && {
        elsewhere: { tools: () => agentToolsOf(deps.config().claude_cli) },
      }),
    });
  }

  /**
   * After a restart: sessions cut off by the crash go on in their worktrees, the other worktrees the
   * run left go, their work kept.
   */
  restore(tasks: Iterable<TaskRecord>): Promise<void> {
    return this.agents.restore(tasks);
  }

  /**
   * A person is asked about the agent's tool call through the inbox. The attempt lets go of its place
   * among the daemon's calls in flight meanwhile (a person may take minutes; the agent sends nothing
   * while it waits), so other workers and runs go on, and takes it back before the agent goes on.
   */
  private permissionsFor(
    taskId: string,
    attempt: Attempt,
    permit: QuotaPermit,
  ): { permissions?: ToolPermissions } {
    const desk = this.deps.permissions;
    if (!desk) return {};
    const asker = {
      runId: this.deps.runId,
      taskId,
      attempt: attempt.n,
      worker: attempt.worker,
      timeoutMs: this.deps.config().claude_cli.permission_timeout * 1000,
    };
    return {
      permissions: {
        decide: async (call, asked) => {
          const resume = permit.standBy();
          try {
            return await desk.ask(asker, call, asked);
          } finally {
            resume();
          }
        },
      },
    };
  }

  /** The call the task's next attempt makes, for what the budget foresees of it. */
  nextCall(taskId: string): NextCall {
    const { tasks } = this.deps;
    const task = tasks.get(taskId)!;
    const dependencies = task.dependencies.map((id) => tasks.get(id)!).filter((d) => d.status === 'done');
    const { system, prompt } = workPrompt(this.deps.context(), task, dependencies, task.feedback);
    return { kind: 'attempt', model: this.deps.config().models.worker.model, system, prompt };
  }

  async work(
    taskId: string,
    worker: number,
    maxTokens: number,
    signal: AbortSignal,
  ): Promise<{ text: string }> {
    const { tasks, clock, budget, emit, backend, runId } = this.deps;
    const config = this.deps.config();
    const before = tasks.get(taskId)!;
    const call = this.nextCall(taskId);
    const { model, system, prompt } = call;
    budget.checkTask(before, call);
    // The attempt begins once the call may go: a wait for quota is not an attempt.
    const permit = await backend.admit(
      {
        runId,
        call: { purpose: 'work', model, system, prompt, maxTokens },
        onLongWait: this.deps.onQuotaWait,
      },
      signal,
    );
    const task = tasks.get(taskId)!;
    const last = task.attempts.at(-1);
    const n = nextAttemptNumber(task);
    const job: AttemptJob = {
      id: attemptJobId(runId, taskId, n),
      runId,
      taskId,
      attempt: n,
      provider: this.deps.provider,
      timeoutMs: config.execution.worker_timeout * 1000,
      ...(last?.outcome === 'interrupted' && { previous: attemptJobId(runId, taskId, last.n) }),
    };
    const attempt: Attempt = {
      n,
      worker,
      startedAt: isoAt(clock),
      outcome: 'running',
      usage: ZERO_USAGE,
      costUsd: 0,
    };
    const change = (what: AttemptChange) =>
      tasks.send(taskId, { type: 'task.attempt_changed', n: attempt.n, change: what });
    const record: AttemptRecord = {
      n: attempt.n,
      current: () => tasks.get(taskId)?.attempts.find((a) => a.n === attempt.n),
      change,
    };
    tasks.send(taskId, { type: 'task.attempt_began', attempt });
    emit({ type: 'task.assigned', taskId, worker, attempt: attempt.n }, attempt.startedAt);
    const output = new OutputBatcher(clock, (text) => emit({ type: 'worker.output', taskId, worker, text }));
    let response: ModelResponse | undefined;
    /**
     * Ends the attempt: what its call cost is charged to the run, its record made final and the event
     * that tells of it journalled (`task.worked` for an answer, `task.attempt_ended` otherwise), in one
     * turn, so the journal tells every change of the record and the run's totals with it. An attempt its
     * task's move ended already (taken back) keeps how and when.
     */
    const end = (outcome: 'succeeded' | 'failed' | 'interrupted', detail: AttemptDetail = {}) => {
      const current = record.current();
      const ended = current === undefined || current.outcome !== 'running';
      // An answer's `task.worked` tells the output: the stream's last piece is not told before it too.
      let untold: { streamed: number } | undefined;
      if (!ended && outcome === 'succeeded') untold = output.answered(detail.output ?? '');
      else output.flush();
      if (ended && response === undefined) return;
      const usage = response?.usage ?? ZERO_USAGE;
      const costUsd = response ? budget.charge(usage, model, response.costUsd) : 0;
      if (response) budget.countAttempt(costUsd);
      const endedAt = (ended ? current?.endedAt : undefined) ?? isoAt(clock);
      const told = ended ? {} : { ...detail, outcome };
      if (!ended && outcome === 'succeeded') {
        // The answer, journalled as it arrives: after a crash it goes to its review, not to another worker.
        const { output: text = '', diff } = detail;
        emit(
          {
            type: 'task.worked',
            taskId,
            attempt: attempt.n,
            output: text,
            ...untold,
            ...(diff !== undefined && { diff }),
            usage,
            costUsd,
          },
          endedAt,
        );
        // The attempt's end and the task's move to its review, in one event.
        tasks.send(taskId, {
          type: 'task.answered',
          n: attempt.n,
          change: { ...told, usage, costUsd, endedAt },
        });
        return;
      }
      change({ ...told, usage, costUsd, endedAt });
      emit(
        {
          type: 'task.attempt_ended',
          taskId,
          attempt: attempt.n,
          outcome: current !== undefined && ended ? current.outcome : outcome,
          usage,
          costUsd,
          ...(!ended && detail.error !== undefined && { error: detail.error }),
        },
        endedAt,
      );
    };
    const deadline = new Deadline(clock, signal, config.execution.worker_timeout * 1000);
    let agent: AgentSide | undefined;
    let thrown: unknown;
    // The most the call may spend: the run's remainder (an agent's share of it: others run beside it), or
    // the task's when that is less.
    const runLeft =
      this.deps.provider === 'claude-code' ? this.deps.agentBudget(task.id) : budget.remaining();
    const taskLeft = budget.taskRemaining(task);
    const budgetUsd =
      runLeft === undefined ? taskLeft : taskLeft === undefined ? runLeft : Math.min(runLeft, taskLeft);
    try {
      // Its worktree, fresh or the one whose session it resumes, and the hooks that journal the session.
      agent = await this.agents.begin(task, record, prompt);
      response = await backend.complete(agent.checkout ? { ...job, checkout: agent.checkout } : job, {
        purpose: 'work',
        model,
        system,
        prompt,
        maxTokens,
        signal: deadline.signal,
        onText: (text) => output.push(text),
        onRateLimits: permit.onRateLimits,
        onAnswer: permit.onAnswer,
        onQuotaWait: this.deps.onQuotaWait,
        ...(budgetUsd !== undefined && { budgetUsd }),
        ...agent.request,
        ...this.permissionsFor(taskId, attempt, permit),
      });
      // Charged to the run when the attempt ends (below); the daemon's metrics count it now, with the call.
      permit.succeeded(response.usage, budget.costOf(response.usage, model, response.costUsd));
      const diff = await agent.commit(`${task.id}: ${task.title}`, response);
      end('succeeded', { output: response.text, ...(diff !== undefined && { diff }) });
      return { text: response.text };
    } catch (error) {
      permit.failed(error);
      thrown = error;
      if (signal.aborted) {
        // A task taken back (cancel, pause, rollback) had its attempt ended by its own move; one the
        // daemon's stop cut off ends here, so its session can go on after the restart.
        end('interrupted');
        throw new CallCancelledError('the attempt was stopped');
      }
      const failure = deadline.timedOut
        ? new ModelError('recoverable', `the attempt timed out after ${config.execution.worker_timeout}s`)
        : taskBudgetStop(error, task.id, taskLeft, runLeft);
      // A usage limit or the run's budget stopped it: the run pauses and the session goes on later.
      end(pausesTheRun(failure) ? 'interrupted' : 'failed', { error: describe(failure) });
      throw failure;
    } finally {
      deadline.clear();
      output.flush();
      // The worktree goes (anything uncommitted kept on an attempt branch), or stays for a resume.
      await agent?.end({ closing: this.deps.closing(), error: thrown });
    }
  }
}

/** How an attempt ended beyond its outcome: what it answered (and changed in the repository), or why it failed. */
interface AttemptDetail {
  output?: string;
  diff?: string;
  error?: AttemptError;
}

/**
 * An agent stopped at its budget (Claude Code's `maxBudgetUsd`): when the task's remainder was the
 * smaller one, the task is out of budget, not the run: it fails, and the run goes on.
 */
function taskBudgetStop(
  error: unknown,
  taskId: string,
  taskLeft: number | undefined,
  runLeft: number | undefined,
): unknown {
  if (!(error instanceof ModelError) || error.details.pauseReason !== 'budget' || taskLeft === undefined)
    return error;
  if (runLeft !== undefined && runLeft < taskLeft) return error;
  return new ModelError(
    'permanent',
    `task ${taskId} reached its budget: the agent stopped at the ${formatCost(taskLeft)} execution.max_task_cost_usd left it`,
    { taskBudget: true },
  );
}

export function describe(error: unknown): {
  category: 'transient' | 'recoverable' | 'permanent';
  message: string;
} {
  if (error instanceof ModelError) return { category: error.category, message: error.message };
  return { category: 'permanent', message: error instanceof Error ? error.message : String(error) };
}
