import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig, ZERO_USAGE, type ResolvedConfig } from '@orc/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../clock.js';
import { ModelError } from '../model/model-error.js';
import type { ModelProvider, ModelRequest } from '../model/provider.js';
import type { ProviderFactory } from '../orchestrator/providers.js';
import { git, gitLine } from '../workspace/git.js';
import type { AgentCheckout } from './attempt-wire.js';
import { RemoteAgents } from './remote-agent-attempt.js';

/**
 * The worker's agent side with real git (a bare repository as the remote) and a provider that stands in
 * for Claude Code by writing a file in the worktree it is given: the run's tool rules replace the
 * machine's, the machine's command and environment stay, and the work is pushed before the answer.
 */
let dir: string;
let remote: string;
let base: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orc-remote-agents-'));
  remote = join(dir, 'remote.git');
  const seed = join(dir, 'seed');
  await git(['init', '--quiet', '--bare', remote], dir);
  await git(['init', '--quiet', '--initial-branch=main', seed], dir);
  await writeFile(join(seed, 'README.md'), '# seed\n');
  await git(['add', '-A'], seed);
  await git(['-c', 'user.name=T', '-c', 'user.email=t@t', 'commit', '--quiet', '-m', 'seed'], seed);
  base = await gitLine(['rev-parse', 'HEAD'], seed);
  await git(['push', '--quiet', remote, `${base}:refs/heads/orc/r1`], seed);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const machine: ResolvedConfig = resolveConfig(
  [
    {
      source: 'the worker machine',
      values: {
        claude_cli: {
          command: '/opt/claude',
          environment: { ON_MACHINE: '1' },
          allowed_tools: ['Bash'],
          max_turns: 99,
        },
      },
    },
  ],
  false,
);

function checkout(tools: AgentCheckout['tools']): AgentCheckout {
  return {
    remote,
    runId: 'r1',
    base,
    baseBranch: 'orc/r1',
    branch: 'orc/r1-tasks/t1',
    message: 't1: T',
    tools,
  };
}

function request(): ModelRequest {
  return {
    purpose: 'work',
    model: 'm',
    system: 's',
    prompt: 'p',
    maxTokens: 1,
    signal: new AbortController().signal,
  };
}

describe('RemoteAgents', () => {
  it('runs the agent under the run’s rules and this machine’s Claude Code, and pushes before it answers', async () => {
    const seen: { config: ResolvedConfig; request: ModelRequest }[] = [];
    const providers: ProviderFactory = (_name, config) => {
      const provider: ModelProvider = {
        name: 'claude-code',
        async complete(request) {
          seen.push({ config, request });
          await writeFile(join(request.workdir!, 'made.txt'), 'made\n');
          return { text: 'done', usage: ZERO_USAGE, stopReason: 'end_turn' };
        },
      };
      return provider;
    };
    const agents = new RemoteAgents({
      workdirRoot: join(dir, 'root'),
      config: machine,
      apiKey: undefined,
      providers,
      clock: systemClock,
    });
    await agents.open();
    const tools = {
      permission_mode: 'default' as const,
      dangerously_skip_permissions: false,
      disallowed_tools: ['WebFetch'],
      permissions: { Bash: 'deny' as const },
    };
    const answer = await agents.complete('r1.t1.1', checkout(tools), {
      purpose: 'work',
      model: 'm',
      system: 's',
      prompt: 'p',
      maxTokens: 100,
      signal: new AbortController().signal,
    });
    expect(answer.text).toBe('done');
    expect(answer.pushed).toMatchObject({ base, branch: 'orc/r1-tasks/t1' });
    expect(await gitLine(['rev-parse', 'refs/heads/orc/r1-tasks/t1'], remote)).toBe(answer.pushed.commit);
    expect(await gitLine(['show', `${answer.pushed.commit}:made.txt`], remote)).toBe('made');
    const { claude_cli } = seen[0]!.config;
    expect(claude_cli).toMatchObject({
      command: '/opt/claude',
      environment: { ON_MACHINE: '1' },
      permission_mode: 'default',
      disallowed_tools: ['WebFetch'],
      permissions: { Bash: 'deny' },
    });
    // The machine's own tool rules do not widen the run's.
    expect(claude_cli.allowed_tools).toBeUndefined();
    expect(claude_cli.max_turns).toBeUndefined();
    await agents.stop();
  });

  it('keeps a failed attempt’s work on its attempt branch of the remote, and says so', async () => {
    const providers: ProviderFactory = () => ({
      name: 'claude-code',
      async complete(request) {
        await writeFile(join(request.workdir!, 'half.txt'), 'half\n');
        throw new ModelError('recoverable', 'Claude Code stopped at max_turns');
      },
    });
    const agents = new RemoteAgents({
      workdirRoot: join(dir, 'root'),
      config: machine,
      apiKey: undefined,
      providers,
      clock: systemClock,
    });
    const tools = {
      permission_mode: 'acceptEdits' as const,
      dangerously_skip_permissions: false,
      permissions: {},
    };
    const failure = await agents
      .complete('r1.t1.1', { ...checkout(tools), keep: 'orc/r1-attempts/t1/1' }, request())
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ModelError);
    expect((failure as ModelError).category).toBe('recoverable');
    expect((failure as ModelError).message).toBe(
      `Claude Code stopped at max_turns (what the agent did is on orc/r1-attempts/t1/1 of ${remote})`,
    );
    expect(await gitLine(['show', 'orc/r1-attempts/t1/1:half.txt'], remote)).toBe('half');
    // Nothing went to the task branch: a failed attempt is no answer.
    expect(await gitLine(['for-each-ref', 'refs/heads/orc/r1-tasks/'], remote)).toBe('');
  });

  it('refuses an agent attempt when the worker has no workdir root', async () => {
    const agents = new RemoteAgents({
      workdirRoot: undefined,
      config: machine,
      apiKey: undefined,
      providers: () => {
        throw new Error('no provider is made');
      },
      clock: systemClock,
    });
    const tools = {
      permission_mode: 'acceptEdits' as const,
      dangerously_skip_permissions: false,
      permissions: {},
    };
    await expect(agents.complete('r1.t1.1', checkout(tools), request())).rejects.toThrow(
      /start orc worker with --workdir-root <dir>/,
    );
  });
});
