import type { TaskRecord } from '@orc/shared';
import { ModelError } from '../model/model-error.js';
import type { ModelResponse } from '../model/provider.js';
import { PushedWork, type AgentCheckout, type AgentTools } from '../remote/attempt-wire.js';
import type { GitWorkspace } from '../workspace/git-workspace.js';
import { orcBranches } from '../workspace/orc-branches.js';
import type { AgentAttempt, AgentRequest, AgentSide } from './agent-attempts.js';

/**
 * An agent attempt made by an `orc worker` on another machine. Before the job goes, the integration head
 * is pushed to the run's remote and becomes the attempt's base (the task branch starts there too); the
 * job names that commit and the task branch, and the worker clones, works in a worktree and pushes. Its
 * answer names the commit it pushed, which is fetched onto the task branch here, so the review's diff,
 * the merge train and a rework go on exactly as for an agent on this machine.
 */
export class PushedAttempt implements AgentSide {
  private constructor(
    /** The journalling of the agent's session and refusals, as for an agent here. */
    private readonly hooks: AgentAttempt,
    private readonly workspace: GitWorkspace,
    private readonly taskId: string,
    readonly checkout: AgentCheckout,
  ) {}

  static async begin(
    workspace: GitWorkspace,
    hooks: AgentAttempt,
    task: TaskRecord,
    attempt: number,
    tools: AgentTools,
  ): Promise<PushedAttempt> {
    const remote = workspace.remote;
    if (!remote)
      throw new ModelError(
        'permanent',
        `run ${workspace.runId} was started for agents on the daemon's machine and names no git remote for orc workers; finish it on a daemon with execution.backend "local"`,
      );
    const base = await workspace.head();
    await remote.publish(base);
    await workspace.setTaskTip(task.id, base, base);
    return new PushedAttempt(hooks, workspace, task.id, {
      remote: remote.url,
      runId: workspace.runId,
      base,
      baseBranch: remote.baseBranch,
      branch: orcBranches.task(workspace.runId, task.id),
      message: `${task.id}: ${task.title}`,
      keep: orcBranches.attempt(workspace.runId, task.id, attempt),
      tools,
    });
  }

  get request(): AgentRequest {
    return this.hooks.request;
  }

  /** The worker's pushed commit, fetched onto the task branch; the change for the review. */
  async commit(_message: string, response?: ModelResponse): Promise<string | undefined> {
    const pushed = PushedWork.safeParse(response?.meta?.['pushed']);
    if (!pushed.success)
      throw new ModelError(
        'permanent',
        'the worker answered without pushing its work (an orc worker of an older version?); update orc on the worker machines',
      );
    const { base, branch, commit } = pushed.data;
    if (commit !== undefined) await this.workspace.remote?.fetch(branch, commit);
    await this.workspace.setTaskTip(this.taskId, base, commit ?? base);
    return this.workspace.diff(this.taskId);
  }

  /** Nothing of the attempt is on this machine but its task branch. */
  end(): Promise<void> {
    return Promise.resolve();
  }
}
