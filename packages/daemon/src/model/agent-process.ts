import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { agentPidFile } from '../workspace/agent-pid.js';
import { AGENT_TAG_VARIABLE, killTagged, newAgentTag } from './process-tag.js';

/** What the Agent SDK asks for when it starts Claude Code (its `SpawnOptions`, the fields we use). */
export interface AgentSpawnRequest {
  command: string;
  args: string[];
  cwd?: string;
  env: Record<string, string | undefined>;
  /** Aborted by the SDK after its own graceful close (stdin closed, a short grace). */
  signal?: AbortSignal;
}

/**
 * One Claude Code process, started for the Agent SDK (`spawnClaudeCodeProcess`) in a process group of its
 * own and tagged in its environment, so a timeout, a cancel, the end of the attempt or a daemon stop ends
 * it together with every tool process it started (a dev server from Bash would otherwise outlive it). Its
 * pid and tag are kept beside the worktree while it runs, for a restarted daemon to stop an agent this
 * one could not.
 */
export class AgentProcess {
  private readonly tag = newAgentTag();
  private child: ChildProcess | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  /** Once the process is reaped its pid (and group id) may be reused: never signal it again. */
  private closed = false;
  private pidFile: string | undefined;
  /** The last line Claude Code wrote on stderr, for an error message. */
  lastStderrLine = '';

  constructor(
    private readonly workdir: string | undefined,
    private readonly killGraceMs: number,
  ) {}

  /** The SDK's spawn hook. */
  spawn(request: AgentSpawnRequest): ChildProcessWithoutNullStreams {
    const child = spawn(request.command, request.args, {
      cwd: request.cwd,
      env: { ...request.env, [AGENT_TAG_VARIABLE]: this.tag },
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child = child;
    liveAgents.add(this);
    ensureExitHook();
    if (this.workdir !== undefined && child.pid !== undefined) {
      this.pidFile = agentPidFile(this.workdir);
      try {
        writeFileSync(this.pidFile, `${child.pid} ${this.tag}`);
      } catch {
        // Best effort: without it a crash leaves this agent running, nothing worse.
        this.pidFile = undefined;
      }
    }
    if (child.stderr) {
      createInterface({ input: child.stderr }).on('line', (line) => {
        if (line.trim() !== '') this.lastStderrLine = line.trim();
      });
    }
    child.on('exit', () => {
      // Tool processes left in the group (a server the agent started) would hold its pipes open. Real
      // time, as in stop(): the group lives in the operating system's time.
      setTimeout(() => this.signalGroup('SIGKILL'), DRAIN_MS).unref();
    });
    child.on('close', () => {
      clearTimeout(this.killTimer);
      // Whatever the agent started and left behind goes with it.
      this.signalGroup('SIGKILL');
      killTagged(this.tag);
      this.closed = true;
      liveAgents.delete(this);
      if (this.pidFile) rmSync(this.pidFile, { force: true });
    });
    request.signal?.addEventListener('abort', () => this.stop(), { once: true });
    return child;
  }

  get started(): boolean {
    return this.child !== undefined;
  }

  /**
   * Ends the process group: SIGTERM, then SIGKILL after the grace period. The grace is the operating
   * system's real time, not the engine's Clock: a process lives in real time, and a simulated clock
   * could only kill it before it had a chance to exit.
   */
  stop(): void {
    if (!this.child || this.closed) return;
    this.signalGroup('SIGTERM');
    this.killTimer ??= setTimeout(() => this.signalGroup('SIGKILL'), this.killGraceMs);
  }

  /** Resolves once the process and its pipes are closed (at once when it never started). */
  exited(): Promise<void> {
    const child = this.child;
    if (!child || this.closed) return Promise.resolve();
    return new Promise((resolve) => child.once('close', () => resolve()));
  }

  /** SIGKILL now, for a daemon that is exiting and cannot wait. */
  killNow(): void {
    this.signalGroup('SIGKILL');
    killTagged(this.tag);
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined || this.closed) return;
    try {
      // A negative pid addresses the whole group: claude and every tool process it started.
      process.kill(-pid, signal);
    } catch {
      // ESRCH: the group is gone already.
    }
  }
}

/** After Claude Code exits, how long its output may take to drain before leftover tool processes die. */
const DRAIN_MS = 1_000;

/**
 * Agents run detached, so the daemon dying would leave them working. While any runs, an exit hook kills
 * their groups; it is the only synchronous thing that still works at that point.
 */
const liveAgents = new Set<AgentProcess>();
let exitHookInstalled = false;

function ensureExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const agent of liveAgents) agent.killNow();
  });
}
