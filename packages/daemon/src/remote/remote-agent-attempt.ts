import type { ResolvedConfig } from '@orc/shared';
import type { Clock } from '../clock.js';
import { ModelError } from '../model/model-error.js';
import type { ModelProvider, ModelRequest, ModelResponse } from '../model/provider.js';
import type { ProviderFactory } from '../orchestrator/providers.js';
import { WorkerClones, type CloneWorktree } from '../workspace/worker-clones.js';
import type { AgentCheckout, AgentTools, PushedWork } from './attempt-wire.js';

export interface RemoteAgentsOptions {
  /** Where this worker keeps its clones and attempt worktrees; unset: it takes no Claude Code attempts. */
  workdirRoot: string | undefined;
  /** This machine's configuration: its `claude_cli.command` and `environment`, its key. */
  config: ResolvedConfig;
  apiKey: string | undefined;
  providers: ProviderFactory;
  clock: Clock;
}

/** An agent's answer, with the work it pushed. */
export type PushedResponse = ModelResponse & { pushed: PushedWork };

/**
 * The Claude Code side of `orc worker`: each agent attempt works in a worktree of this machine's clone of
 * the run's remote, at the integration commit the job names, under the run's tool rules (sent with the
 * job) and this machine's Claude Code (its command, its environment, its key). Once the agent answers,
 * its work is committed and pushed to the task branch before the answer is given: a worker killed
 * mid-attempt has pushed nothing for it, and the worker that takes the job over starts afresh.
 */
export class RemoteAgents {
  private readonly clones: WorkerClones | undefined;
  /** One provider per set of tool rules (a run's), made on first use. */
  private readonly providers = new Map<string, ModelProvider>();

  constructor(private readonly options: RemoteAgentsOptions) {
    this.clones = options.workdirRoot === undefined ? undefined : new WorkerClones(options.workdirRoot);
  }

  async complete(jobId: string, checkout: AgentCheckout, request: ModelRequest): Promise<PushedResponse> {
    if (!this.clones)
      throw new ModelError(
        'permanent',
        'this worker was started without a workdir root for Claude Code agents; start orc worker with --workdir-root <dir>',
      );
    const provider = this.providerFor(checkout.tools);
    const worktree = await this.clones.checkout(jobId, checkout);
    try {
      // `request.permissions` puts a call outside the run's rules to the daemon's inbox.
      const response = await provider.complete({ ...request, workdir: worktree.path });
      // Pushed before the answer goes back: the answer names a commit that is on the remote.
      if (request.signal.aborted) throw new ModelError('transient', 'the attempt was taken back');
      return { ...response, pushed: await worktree.publish() };
    } catch (error) {
      throw await keptWork(error, worktree, checkout);
    } finally {
      await worktree.remove().catch(() => undefined);
    }
  }

  /** Takes the workdir root and clears what a killed worker left in it. */
  async open(): Promise<void> {
    await this.clones?.open();
  }

  /** Stops every agent still running (the worker stops now) and lets go of the workdir root. */
  async stop(): Promise<void> {
    await this.clones?.close();
    for (const provider of this.providers.values())
      if ('stop' in provider && typeof provider.stop === 'function') await (provider.stop as () => unknown)();
  }

  private providerFor(tools: AgentTools): ModelProvider {
    const key = JSON.stringify(tools);
    let provider = this.providers.get(key);
    if (!provider) {
      const { config, apiKey, clock } = this.options;
      // The run's rules replace the machine's; what is the machine's (command, environment, dirs) stays.
      const { allowed_tools: _a, disallowed_tools: _d, max_turns: _m, ...machine } = config.claude_cli;
      const claude = { ...machine, ...tools };
      provider = this.options.providers('claude-code', { ...config, claude_cli: claude }, { apiKey, clock });
      this.providers.set(key, provider);
    }
    return provider;
  }
}

/**
 * What the agent did before its attempt failed is pushed to the attempt's own branch, and the failure
 * says where: as on the daemon's machine, nothing an agent did is lost with its worktree.
 */
async function keptWork(error: unknown, worktree: CloneWorktree, checkout: AgentCheckout): Promise<unknown> {
  const kept = await worktree.keep().catch(() => undefined);
  if (kept === undefined || !(error instanceof ModelError)) return error;
  return new ModelError(
    error.category,
    `${error.message} (what the agent did is on ${kept} of ${checkout.remote})`,
    error.details,
  );
}
