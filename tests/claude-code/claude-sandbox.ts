import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { OrcClient } from '@orc/daemon/client';
import type { ConfigInput, OrcEvent, RunView } from '@orc/shared';
import { Sandbox } from '../daemon/harness.js';
import { startAgentStandIn, type AgentStandIn } from '../support/agent-stand-in.js';
import { claudeEnvironment, stopClaudeProcesses, type ClaudeLogin } from '../support/real-claude.js';

export interface TaskInput {
  id: string;
  title?: string;
  /** The stand-in model's script for the agent, one instruction a line (see agent-stand-in.ts). */
  lines: string[];
  dependencies?: string[];
  /** The paths or globs the task will touch (the task file's `touches`). */
  touches?: string[];
}

export interface RunConfig extends ClaudeLogin {
  workers?: number;
  maxRetries?: number;
  maxReworks?: number;
  /** `claude_cli.command`; unset: the real Claude Code the Agent SDK bundles. */
  command?: string;
  /** Added to `claude_cli.environment`, e.g. `{ BROKEN_CLAUDE_MODE: 'exit1' }`. */
  environment?: Record<string, string>;
  /** More `claude_cli` settings (permission_mode, allowed_tools, …). */
  claude?: NonNullable<ConfigInput['claude_cli']>;
  /** The manager: simulated (quick), or Claude Code too (plans and reviews through structured output). */
  manager?: 'simulated' | 'claude-code';
  /** The merge train (`integration.verify`, …). */
  integration?: ConfigInput['integration'];
  /** `execution.max_cost_usd`: the run's budget. */
  maxCostUsd?: number;
}

export type CliResult = { code: number; stdout: string; stderr: string };

/**
 * A daemon sandbox for Claude Code runs: a temp state dir (the daemon's), the stand-in model the real
 * Claude Code talks to, and temp repositories. Each run is started from a folder of its own whose
 * `orc.config.json` makes the workers Claude Code, pointed at the stand-in, offline.
 */
export class ClaudeSandbox {
  private folders = 0;
  private current: OrcClient | undefined;

  private constructor(
    readonly box: Sandbox,
    readonly standIn: AgentStandIn,
  ) {}

  static async create(): Promise<ClaudeSandbox> {
    const box = await Sandbox.create();
    await mkdir(join(box.home, 'claude-home'));
    return new ClaudeSandbox(box, await startAgentStandIn());
  }

  get home(): string {
    return this.box.home;
  }

  /** A folder under the sandbox for anything a test needs (repositories, plain directories). */
  async folder(name: string): Promise<string> {
    const path = join(this.home, `${++this.folders}-${name}`);
    await mkdir(path, { recursive: true });
    return path;
  }

  /** A git repository on `main` with one commit holding `files`. */
  async repo(files: Record<string, string> = { 'README.md': '# project\n' }): Promise<string> {
    const repo = await this.folder('repo');
    await git(repo, 'init', '--quiet', '--initial-branch=main');
    await git(repo, 'config', 'user.name', 'Test User');
    await git(repo, 'config', 'user.email', 'test@example.com');
    await git(repo, 'config', 'commit.gpgsign', 'false');
    for (const [path, content] of Object.entries(files)) {
      await mkdir(join(repo, path, '..'), { recursive: true });
      await writeFile(join(repo, path), content);
    }
    await git(repo, 'add', '-A');
    await git(repo, 'commit', '--quiet', '-m', 'initial commit');
    return repo;
  }

  /** A folder with `orc.config.json` and `tasks.json` (when given), from which `orc run` is started. */
  async runFolder(tasks: TaskInput[] | undefined, config: RunConfig = {}): Promise<string> {
    const cwd = await this.folder('run');
    const orcConfig = {
      models: {
        manager: { provider: config.manager ?? 'simulated' },
        worker: { provider: 'claude-code' },
      },
      simulated: { latency_ms: { min: 5, max: 20 } },
      execution: {
        max_workers: config.workers ?? 5,
        max_retries: config.maxRetries ?? 0,
        max_reworks: config.maxReworks ?? 2,
        ...(config.maxCostUsd !== undefined && { max_cost_usd: config.maxCostUsd }),
      },
      checkpoints: { every_n_tasks: 0 },
      ...(config.integration !== undefined && { integration: config.integration }),
      claude_cli: {
        ...config.claude,
        ...(config.command !== undefined && { command: config.command }),
        environment: {
          ...claudeEnvironment(this.standIn, join(this.home, 'claude-home'), config),
          ...config.environment,
        },
      },
    };
    await writeFile(join(cwd, 'orc.config.json'), JSON.stringify(orcConfig, null, 2));
    if (tasks) {
      const specs = tasks.map((task) => ({
        id: task.id,
        title: task.title ?? `task ${task.id}`,
        description: task.lines.join('\n'),
        dependencies: task.dependencies ?? [],
        ...(task.touches !== undefined && { touches: task.touches }),
      }));
      await writeFile(join(cwd, 'tasks.json'), JSON.stringify(specs, null, 2));
    }
    return cwd;
  }

  orc(args: string[], cwd = this.home, timeoutMs = 45_000): Promise<CliResult> {
    return this.box.orc(args, { cwd, timeoutMs });
  }

  /** `orc run tasks.json --workdir <repo> --json` from `cwd`, followed to the end. */
  async run(cwd: string, repo: string, extra: string[] = []): Promise<CliResult> {
    const result = await this.orc(['run', 'tasks.json', '--workdir', repo, '--json', ...extra], cwd);
    await this.box.daemonPid();
    return result;
  }

  /** Starts a run and returns its id at once. */
  async detach(cwd: string, repo: string): Promise<string> {
    const result = await this.orc(['run', 'tasks.json', '--workdir', repo, '--detach'], cwd);
    await this.box.daemonPid();
    if (result.code !== 0) throw new Error(`orc run --detach failed: ${result.stderr}`);
    return result.stdout.trim();
  }

  /** `orc show <run> --json`. */
  async show(runId: string): Promise<RunView> {
    const result = await this.orc(['show', runId, '--json']);
    if (result.code !== 0) throw new Error(`orc show failed: ${result.stderr}`);
    return JSON.parse(result.stdout) as RunView;
  }

  /**
   * A client of the running daemon, for looking (each `orc` costs a second or more on a loaded machine);
   * what the tests do goes through the CLI. A new one after `forgetClient()` (a restarted daemon).
   */
  async client(): Promise<OrcClient> {
    this.current ??= await this.box.client();
    return this.current;
  }

  forgetClient(): void {
    this.current = undefined;
  }

  async view(runId: string): Promise<RunView> {
    return (await this.client()).trpc.runs.get.query({ runId });
  }

  /** Every event of the run so far. */
  async events(runId: string): Promise<OrcEvent[]> {
    const client = await this.client();
    const { lastEventId } = await this.view(runId);
    const events: OrcEvent[] = [];
    if (lastEventId === 0) return events;
    return new Promise((resolve, reject) => {
      const sub = client.trpc.runs.events.subscribe(
        { runId, lastEventId: null },
        {
          onData: ({ data }) => {
            events.push(data);
            if (data.id >= lastEventId) {
              sub.unsubscribe();
              resolve(events);
            }
          },
          onError: reject,
        },
      );
    });
  }

  /** Polls the run until `done` holds for it. */
  async waitForRun(runId: string, done: (run: RunView) => boolean, timeoutMs = 30_000): Promise<RunView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const run = await this.view(runId);
      if (done(run)) return run;
      if (Date.now() > deadline)
        throw new Error(`run ${runId} timed out in ${run.status}: ${JSON.stringify(taskStates(run))}`);
      await sleep(100);
    }
  }

  /** The worktrees of a run in the state directory: `worktrees/<repo-id>/<runId>`, if it is there. */
  runWorktrees(runId: string): string | undefined {
    const root = join(this.home, 'worktrees');
    if (!existsSync(root)) return undefined;
    for (const repoDir of readdirSync(root)) {
      if (existsSync(join(root, repoDir, runId))) return join(root, repoDir, runId);
    }
    return undefined;
  }

  /** The worktree of one attempt, once it is there. */
  worktree(runId: string, taskId: string, attempt: number): string | undefined {
    const dir = this.runWorktrees(runId);
    const path = dir === undefined ? undefined : join(dir, taskId, `attempt-${attempt}`);
    return path !== undefined && existsSync(path) ? path : undefined;
  }

  /** The pid of the agent working in a worktree, from the file the daemon keeps beside it. */
  agentPid(worktree: string): number | undefined {
    try {
      return Number(readFileSync(`${worktree}.agent-pid`, 'utf8').split(' ')[0]);
    } catch {
      return undefined;
    }
  }

  async cleanup(): Promise<void> {
    // The daemon's agents run in process groups of their own; a SIGKILLed daemon leaves them behind.
    const claudeDir = join(this.home, 'claude-home');
    stopClaudeProcesses(claudeDir);
    await this.box.cleanup();
    stopClaudeProcesses(claudeDir);
    await this.standIn.close();
  }
}

export function taskStates(run: RunView): Record<string, string> {
  return Object.fromEntries(run.tasks.map((task) => [task.id, task.status]));
}

/** A git command's output, trimmed. */
export async function git(repo: string, ...args: string[]): Promise<string> {
  return (await gitRaw(repo, ...args)).trim();
}

function gitRaw(repo: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', args, { cwd: repo }, (error, stdout, stderr) => {
      if (error) reject(new Error(`git ${args.join(' ')}: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

/** Everything of a repository a run must not touch: HEAD, its branch, the other branches, the files. */
export async function userState(repo: string) {
  const branches = (await git(repo, 'for-each-ref', '--format=%(refname:short) %(objectname)', 'refs/heads'))
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('orc/'));
  return {
    head: await git(repo, 'rev-parse', 'HEAD'),
    branch: await git(repo, 'symbolic-ref', '--short', 'HEAD'),
    branches,
    status: await git(repo, 'status', '--porcelain', '--untracked-files=all'),
    files: await workingFiles(repo),
  };
}

/** The working tree's files and contents, `.git` left out. */
export async function workingFiles(dir: string, root = dir): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name === '.git') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) Object.assign(files, await workingFiles(path, root));
    else files[relative(root, path)] = await readFile(path, 'utf8');
  }
  return files;
}

/** The files of a commit (or branch) and their contents. */
export async function filesAt(repo: string, rev: string): Promise<Record<string, string>> {
  const names = (await git(repo, 'ls-tree', '-r', '--name-only', rev)).split('\n').filter(Boolean);
  const files: Record<string, string> = {};
  for (const name of names) files[name] = await gitRaw(repo, 'show', `${rev}:${name}`);
  return files;
}

/** The repository's orc branches, short names. */
export async function orcBranchNames(repo: string): Promise<string[]> {
  const out = await git(repo, 'for-each-ref', '--format=%(refname:short)', 'refs/heads/orc/');
  return out.split('\n').filter(Boolean);
}

/** The worktrees other than the main one. */
export async function extraWorktrees(repo: string): Promise<string[]> {
  const out = await git(repo, 'worktree', 'list', '--porcelain');
  return out
    .split('\n')
    .filter((line) => line.startsWith('worktree '))
    .map((line) => line.slice('worktree '.length))
    .slice(1);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether a process runs (a test's daemon or agent). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `probe` until it holds; fails naming `what` after `timeoutMs`. */
export async function waitUntil(what: string, probe: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(50);
  }
}
