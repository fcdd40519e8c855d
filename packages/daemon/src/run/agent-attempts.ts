import type { Attempt, NewEvent, TaskRecord } from '@orc/shared';
import type { AttemptChange } from '../actors/task.machine.js';
import type { Logger } from 'pino';
import { ModelError } from '../model/model-error.js';
import { resumePrompt } from '../model/prompts.js';
import type { ModelRequest, ModelResponse } from '../model/provider.js';
import type { AgentCheckout, AgentTools } from '../remote/attempt-wire.js';
import type { GitWorkspace } from '../workspace/git-workspace.js';
import { PushedAttempt } from './pushed-attempt.js';

/** What one attempt adds to its worker's model call. */
export type AgentRequest = Pick<ModelRequest, 'workdir' | 'resume' | 'onSession' | 'onRefusal'> & {
  /** Replaces the task's prompt when a session goes on: the agent has the task in its conversation. */
  prompt?: string;
};

export interface AgentAttemptsDeps {
  /** The run's repository, when it has one; it may be opened after the run is made (a reopened run). */
  workspace: () => GitWorkspace | undefined;
  emit: (event: NewEvent) => void;
  logger: Logger;
  /** Present when agents work on other machines (`orc worker`): the run's rules they get with each job. */
  elsewhere?: { tools: () => AgentTools };
}

/** An attempt's repository side, wherever its agent works: what the call adds, its commit, its end. */
export interface AgentSide {
  readonly request: AgentRequest;
  /** What a worker on another machine clones, starts from and pushes to; absent for an agent here. */
  readonly checkout?: AgentCheckout;
  /** The attempt's work on the task branch, after the agent's answer; the change for the review (none without a repository). */
  commit(message: string, response?: ModelResponse): Promise<string | undefined>;
  end(cutOff: { closing: boolean; error: unknown }): Promise<void>;
}

/** Where a session that was cut off goes on: the attempt that began it (its worktree) and its id. */
interface ResumePoint {
  attempt: number;
  sessionId: string;
}

/**
 * The agent side of a run's attempts (Claude Code workers in a repository). Each attempt works in a
 * worktree of its own; when the task's previous attempt was cut off mid-session (the daemon crashed or
 * stopped, a usage limit or the budget paused the run), the next one goes on with that session in that
 * worktree instead, so what the agent did is neither lost nor paid for twice. The session id and every
 * refused tool call are journalled as they happen, the session id before the agent has done any work.
 */
export class AgentAttempts {
  private readonly resumable = new Map<string, ResumePoint>();

  constructor(private readonly deps: AgentAttemptsDeps) {}

  /**
   * After a restart, with the records caught up from the journal: each task whose last attempt was cut
   * off in a known session keeps that attempt's worktree for its next one; every other worktree the run
   * left is removed, its work kept on an attempt branch. Agents a killed daemon left running are stopped.
   */
  async restore(tasks: Iterable<TaskRecord>): Promise<void> {
    const workspace = this.deps.workspace();
    const keep = new Set<string>();
    for (const task of tasks) {
      const last = task.attempts.at(-1);
      if (task.status !== 'ready' || last?.outcome !== 'interrupted' || last.sessionId === undefined)
        continue;
      const point = { attempt: last.resumes ?? last.n, sessionId: last.sessionId };
      this.resumable.set(task.id, point);
      if (workspace) keep.add(workspace.worktreePath(task.id, point.attempt));
    }
    await workspace?.recover(keep);
  }

  /**
   * Where attempt `record.n` of `task` works and what its model call is given (`prompt`: the task's).
   * The attempt's record changes through `record`: the task actor keeps it.
   */
  async begin(task: TaskRecord, record: AttemptRecord, prompt: string): Promise<AgentSide> {
    const workspace = this.deps.workspace();
    const point = this.resumable.get(task.id);
    this.resumable.delete(task.id);
    const context: AttemptContext = {
      ...this.deps,
      workspace,
      keep: (kept) => this.resumable.set(task.id, kept),
    };
    const hooks = new AgentAttempt(context, task.id, record, record.n, undefined, undefined);
    if (!workspace) return hooks;
    // On another machine: a cut-off session's worker finishes its job, whose answer the next attempt takes.
    if (this.deps.elsewhere)
      return PushedAttempt.begin(workspace, hooks, task, record.n, this.deps.elsewhere.tools());
    const continued = point && (await workspace.resumeAttempt(task.id, point.attempt));
    if (point && continued) {
      // Told at once: the attempt goes on with that session from its first turn.
      record.change({ resumes: point.attempt, sessionId: point.sessionId });
      this.deps.emit({
        type: 'task.session',
        taskId: task.id,
        attempt: record.n,
        sessionId: point.sessionId,
        resumes: point.attempt,
      });
      const resume = { sessionId: point.sessionId, prompt: resumePrompt(prompt) };
      return new AgentAttempt(context, task.id, record, point.attempt, continued.path, resume);
    }
    // A fresh worktree from the integration head: the task sees every dependency's merged work.
    const prepared = await workspace.prepareAttempt(task.id, record.n);
    return new AgentAttempt(context, task.id, record, record.n, prepared.path, undefined);
  }
}

/** One attempt's record as its task actor keeps it: read it as it is now, change it by an event. */
export interface AttemptRecord {
  readonly n: number;
  current(): Attempt | undefined;
  change(change: AttemptChange): void;
}

interface AttemptContext {
  workspace: GitWorkspace | undefined;
  emit: (event: NewEvent) => void;
  logger: Logger;
  /** Keeps the session for the task's next attempt. */
  keep: (point: ResumePoint) => void;
}

/** One attempt's worktree and session. */
export class AgentAttempt implements AgentSide {
  constructor(
    private readonly context: AttemptContext,
    private readonly taskId: string,
    private readonly record: AttemptRecord,
    /** The attempt whose worktree this one works in: its own, or the one whose session it resumes. */
    private readonly slot: number,
    private readonly workdir: string | undefined,
    private readonly resume: { sessionId: string; prompt: string } | undefined,
  ) {}

  get request(): AgentRequest {
    const { record, taskId } = this;
    return {
      ...(this.workdir !== undefined && { workdir: this.workdir }),
      ...(this.resume !== undefined && { resume: this.resume.sessionId, prompt: this.resume.prompt }),
      onSession: (sessionId) => {
        record.change({ sessionId });
        const resumes = record.current()?.resumes;
        this.context.emit({
          type: 'task.session',
          taskId,
          attempt: record.n,
          sessionId,
          ...(resumes !== undefined && { resumes }),
        });
      },
      onRefusal: (refusal) => {
        record.change({ refusals: [...(record.current()?.refusals ?? []), refusal] });
        this.context.emit({ type: 'task.tool_refused', taskId, attempt: record.n, refusal });
      },
    };
  }

  /** Commits what the agent changed on the task branch; the change for the review, without a repository none. */
  async commit(message: string): Promise<string | undefined> {
    const { workspace } = this.context;
    if (!workspace || this.workdir === undefined) return undefined;
    await workspace.commitAttempt(this.taskId, this.slot, message);
    return workspace.diff(this.taskId);
  }

  /**
   * The attempt is over. Its worktree goes, anything uncommitted kept on an attempt branch, unless its
   * session was cut off in a way that lets it go on (the daemon is stopping, or the run paused for a usage
   * limit or the budget): then the task's next attempt resumes it there.
   */
  async end(cutOff: { closing: boolean; error: unknown }): Promise<void> {
    const { workspace } = this.context;
    if (!workspace || this.workdir === undefined) return;
    const attempt = this.record.current();
    if (
      attempt?.outcome === 'interrupted' &&
      attempt.sessionId !== undefined &&
      (cutOff.closing || pausesTheRun(cutOff.error))
    ) {
      this.context.keep({ attempt: this.slot, sessionId: attempt.sessionId });
      return;
    }
    await workspace.removeAttempt(this.taskId, this.slot).catch((error: unknown) => {
      this.context.logger.error({ err: error, taskId: this.taskId }, 'could not remove a worktree');
    });
  }
}

/**
 * A failure that is no fault of the attempt: a usage limit, the run's budget or a lost Redis (whose
 * worker may still finish the job) stopped it, the run pauses, and the attempt counts as interrupted (its
 * session or its job can go on), not failed.
 */
export function pausesTheRun(error: unknown): boolean {
  const reason = error instanceof ModelError ? error.details.pauseReason : undefined;
  return reason === 'quota' || reason === 'budget' || reason === 'backend';
}
