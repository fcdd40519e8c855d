import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import { createInterface } from 'node:readline';
import type { Usage } from '@orc/shared';
import { agentPidFile } from '../workspace/agent-pid.js';
import { CallCancelledError, ModelError } from './model-error.js';
import type { ModelProvider, ModelRequest, ModelResponse } from './provider.js';

/** The `claude` flags a user may set in config (`claude_cli.*`), spelled as in the config file. */
export interface ClaudeCliFlags {
  /** `--permission-mode`: default, acceptEdits, plan, bypassPermissions, … */
  permission_mode?: string;
  /** `--dangerously-skip-permissions`, only on explicit opt-in. */
  dangerously_skip_permissions?: boolean;
  /** `--allowedTools`, e.g. `["Edit", "Bash(npm test:*)"]`. */
  allowed_tools?: string[];
  /** `--disallowedTools`. */
  disallowed_tools?: string[];
  /** `--max-turns`. */
  max_turns?: number;
  /** `--add-dir`, once per directory. */
  add_dirs?: string[];
}

export interface ClaudeCodeProviderOptions {
  /** The executable, looked up on PATH; default `claude`. */
  command?: string;
  flags: ClaudeCliFlags;
  /** Variables added to the agent's environment (`claude_cli.environment`). */
  environment?: Record<string, string>;
  /** The environment the agent starts from; default the daemon's. */
  env?: NodeJS.ProcessEnv;
  /** Limit for one attempt; past it the process group is killed and the call fails as recoverable. */
  timeoutMs?: number;
  /** Between SIGTERM and SIGKILL when the process group is stopped. */
  killGraceMs?: number;
}

/** A provider that owns processes: `stop()` ends every agent still running (daemon shutdown). */
export interface ClaudeCodeProvider extends ModelProvider {
  stop(): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 30 * 60_000;
const DEFAULT_KILL_GRACE_MS = 3_000;
/** After claude exits, how long its output may take to drain before leftover tool processes are killed. */
const DRAIN_MS = 1_000;

/**
 * The `claude-code` provider: each call runs the Claude Code CLI non-interactively in the request's
 * working directory (the attempt's git worktree) and reads its stream-json output as it comes. The agent
 * runs in a process group of its own, so a timeout, a cancel or a daemon stop ends it together with every
 * tool process it started.
 */
export function createClaudeCodeProvider(options: ClaudeCodeProviderOptions): ClaudeCodeProvider {
  const command = options.command ?? 'claude';
  const running = new Set<AgentProcess>();
  return {
    name: 'claude-code',
    complete(request) {
      if (request.signal.aborted) {
        return Promise.reject(new CallCancelledError('the model call was cancelled before it started'));
      }
      const agent = new AgentProcess(command, options, request);
      running.add(agent);
      liveGroups.add(agent);
      ensureExitHook();
      return agent.result.finally(() => {
        running.delete(agent);
        liveGroups.delete(agent);
      });
    },
    async stop() {
      await Promise.all([...running].map((agent) => agent.stop()));
    },
  };
}

/** The argument list for one call; the prompt goes on stdin so no length limit or quoting applies. */
export function claudeArguments(model: string, flags: ClaudeCliFlags): string[] {
  const args = ['-p', '--output-format', 'stream-json', '--verbose', '--model', model];
  if (flags.permission_mode) args.push('--permission-mode', flags.permission_mode);
  if (flags.dangerously_skip_permissions === true) args.push('--dangerously-skip-permissions');
  if (flags.allowed_tools?.length) args.push('--allowedTools', ...flags.allowed_tools);
  if (flags.disallowed_tools?.length) args.push('--disallowedTools', ...flags.disallowed_tools);
  if (flags.max_turns !== undefined) args.push('--max-turns', String(flags.max_turns));
  for (const dir of flags.add_dirs ?? []) args.push('--add-dir', dir);
  return args;
}

/** The final `{"type":"result"}` line, as far as we read it. */
interface ResultLine {
  subtype?: string;
  is_error?: boolean;
  result?: string;
  num_turns?: number;
  session_id?: string;
  duration_ms?: number;
  total_cost_usd?: number;
  usage?: {
    input_tokens?: number;
    output_tokens?: number;
    cache_read_input_tokens?: number;
    cache_creation_input_tokens?: number;
  };
}

type Ending =
  | { kind: 'cancelled' }
  | { kind: 'timeout' }
  | { kind: 'garbage'; line: string }
  | { kind: 'callback'; error: unknown };

/** One run of the CLI, from spawn to the last byte of output. */
class AgentProcess {
  readonly result: Promise<ModelResponse>;
  private child: ChildProcess | undefined;
  private ending: Ending | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  /** Once the process is reaped its pid (and group id) may be reused: never signal it again. */
  private closed = false;

  constructor(
    private readonly command: string,
    private readonly options: ClaudeCodeProviderOptions,
    private readonly request: ModelRequest,
  ) {
    this.result = this.run();
  }

  /** Ends the process group: SIGTERM, then SIGKILL after the grace period. */
  stop(reason: Ending = { kind: 'cancelled' }): Promise<void> {
    this.ending ??= reason;
    this.signalGroup('SIGTERM');
    this.killTimer ??= setTimeout(
      () => this.signalGroup('SIGKILL'),
      this.options.killGraceMs ?? DEFAULT_KILL_GRACE_MS,
    );
    return this.result.then(
      () => undefined,
      () => undefined,
    );
  }

  /** SIGKILL now, for a daemon that is exiting and cannot wait. */
  killNow(): void {
    this.signalGroup('SIGKILL');
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

  private run(): Promise<ModelResponse> {
    const { request, options } = this;
    return new Promise<ModelResponse>((resolve, reject) => {
      const child = spawn(this.command, claudeArguments(request.model, options.flags), {
        cwd: request.workdir ?? process.cwd(),
        env: { ...(options.env ?? process.env), ...options.environment },
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      this.child = child;
      // Beside the worktree, for a restarted daemon to stop this agent if this one dies without doing so.
      const pidFile =
        request.workdir !== undefined && child.pid !== undefined ? agentPidFile(request.workdir) : undefined;
      if (pidFile) {
        try {
          writeFileSync(pidFile, String(child.pid));
        } catch {
          // Best effort: without it a crash leaves this agent running, nothing worse.
        }
      }

      let spawnError: NodeJS.ErrnoException | undefined;
      let final: ResultLine | undefined;
      let sessionId: string | undefined;
      let actualModel: string | undefined;
      let lastStderrLine = '';
      const cwd = request.workdir ?? process.cwd();

      const timer = setTimeout(
        () => void this.stop({ kind: 'timeout' }),
        options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      );
      const onAbort = (): void => void this.stop({ kind: 'cancelled' });
      request.signal.addEventListener('abort', onAbort, { once: true });

      const emitText = (text: string): void => {
        if (!request.onText || this.ending) return;
        try {
          request.onText(text);
        } catch (error) {
          void this.stop({ kind: 'callback', error });
        }
      };

      child.on('error', (error: NodeJS.ErrnoException) => {
        spawnError = error;
      });
      child.stdin?.on('error', () => {
        // EPIPE when claude exits without reading its prompt; its exit status says why.
      });
      child.stdin?.end(request.system ? `${request.system}\n\n${request.prompt}` : request.prompt);

      createInterface({ input: child.stderr }).on('line', (line) => {
        if (line.trim() !== '') lastStderrLine = line.trim();
      });
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (line.trim() === '' || this.ending) return;
        const event = parseEvent(line);
        if (!event) {
          void this.stop({ kind: 'garbage', line });
          return;
        }
        switch (event.type) {
          case 'system':
            if (event.subtype === 'init') {
              sessionId = stringField(event, 'session_id') ?? sessionId;
              actualModel = stringField(event, 'model');
            }
            break;
          case 'assistant':
            for (const piece of assistantText(event, cwd)) emitText(piece);
            break;
          case 'result':
            final = event as ResultLine;
            break;
          default:
            // user (tool results), stream_event and future types carry nothing the caller needs.
            break;
        }
      });

      child.on('exit', () => {
        // Tool processes left in the group (a server the agent started) would hold stdout open forever.
        setTimeout(() => this.signalGroup('SIGKILL'), DRAIN_MS).unref();
      });

      child.on('close', (code, signal) => {
        clearTimeout(timer);
        clearTimeout(this.killTimer);
        request.signal.removeEventListener('abort', onAbort);
        // Whatever the agent started and left behind goes with it.
        this.signalGroup('SIGKILL');
        this.closed = true;
        if (pidFile) rmSync(pidFile, { force: true });
        try {
          resolve(this.settle({ code, signal, spawnError, final, sessionId, actualModel, lastStderrLine }));
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
    });
  }

  private settle(outcome: {
    code: number | null;
    signal: NodeJS.Signals | null;
    spawnError: NodeJS.ErrnoException | undefined;
    final: ResultLine | undefined;
    sessionId: string | undefined;
    actualModel: string | undefined;
    lastStderrLine: string;
  }): ModelResponse {
    const { code, signal, spawnError, final, lastStderrLine } = outcome;
    const ending = this.ending;
    if (ending?.kind === 'cancelled') throw new CallCancelledError('the model call was cancelled');
    if (ending?.kind === 'callback') throw ending.error;
    if (ending?.kind === 'timeout') {
      const seconds = (this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000;
      throw new ModelError('recoverable', `claude did not finish within ${seconds}s and was stopped`);
    }
    if (ending?.kind === 'garbage') {
      throw new ModelError(
        'permanent',
        `claude printed something that is not stream-json: ${ending.line.slice(0, 200)}`,
      );
    }
    if (spawnError) {
      // A missing working directory fails the spawn with the same code as a missing command.
      const cwd = this.request.workdir;
      if (spawnError.code === 'ENOENT' && cwd !== undefined && !existsSync(cwd)) {
        throw new ModelError('permanent', `the agent's working directory ${cwd} does not exist`);
      }
      if (spawnError.code === 'ENOENT') {
        throw new ModelError(
          'permanent',
          `the claude command was not found (claude_cli.command = ${this.command}); install Claude Code or set claude_cli.command`,
        );
      }
      throw new ModelError(
        'permanent',
        `claude could not be started (${this.command}): ${spawnError.message}`,
      );
    }
    if (final?.is_error) throw classifyResultError(final, this.options.flags);
    if (code !== 0) {
      const how = code === null ? `was killed by ${signal ?? 'a signal'}` : `exited with code ${code}`;
      throw new ModelError('transient', `claude ${how}${lastStderrLine ? `: ${lastStderrLine}` : ''}`);
    }
    if (!final) throw new ModelError('transient', 'claude exited without a result line');
    return {
      text: final.result ?? '',
      usage: usageOf(final),
      stopReason: final.subtype ?? 'success',
      ...(typeof final.total_cost_usd === 'number' ? { costUsd: final.total_cost_usd } : {}),
      meta: {
        sessionId: final.session_id ?? outcome.sessionId,
        numTurns: final.num_turns,
        durationMs: final.duration_ms,
        ...(outcome.actualModel ? { model: outcome.actualModel } : {}),
      },
    };
  }
}

/**
 * A result with `is_error`: logged out, out of credit or past a usage limit needs a person, so the run
 * pauses; hitting max_turns may pass with more room; anything else is worth a retry.
 */
export function classifyResultError(final: ResultLine, flags: ClaudeCliFlags): ModelError {
  const text = (final.result ?? '').trim();
  if (final.subtype === 'error_max_turns') {
    return new ModelError(
      'recoverable',
      `claude stopped at the turn limit (claude_cli.max_turns = ${flags.max_turns ?? 'unset'}, ${final.num_turns ?? '?'} turns)`,
    );
  }
  const said = text ? `: ${text.slice(0, 300)}` : ` (${final.subtype ?? 'error'})`;
  if (/auth|log ?in|api key|usage limit|credit|billing/i.test(text)) {
    return new ModelError('permanent', `claude cannot work until someone acts${said}`, { pauseRun: true });
  }
  if (/rate limit|overloaded|\b429\b|\b529\b/i.test(text)) {
    return new ModelError('transient', `claude reported an error${said}`, { rateLimited: true });
  }
  return new ModelError('transient', `claude reported an error${said}`);
}

function usageOf(final: ResultLine): Usage {
  const usage = final.usage ?? {};
  return {
    inputTokens: usage.input_tokens ?? 0,
    outputTokens: usage.output_tokens ?? 0,
    cacheReadTokens: usage.cache_read_input_tokens ?? 0,
    cacheWriteTokens: usage.cache_creation_input_tokens ?? 0,
  };
}

type StreamEvent = Record<string, unknown> & { type: string };

function parseEvent(line: string): StreamEvent | undefined {
  try {
    const value: unknown = JSON.parse(line);
    if (
      typeof value === 'object' &&
      value !== null &&
      typeof (value as { type?: unknown }).type === 'string'
    ) {
      return value as StreamEvent;
    }
  } catch {
    // Not JSON: the caller reports it.
  }
  return undefined;
}

function stringField(value: Record<string, unknown>, key: string): string | undefined {
  const field = value[key];
  return typeof field === 'string' ? field : undefined;
}

/** The pieces of an assistant message worth showing: its text, and each tool use as `→ Edit src/a.ts`. */
export function assistantText(event: Record<string, unknown>, cwd: string): string[] {
  const message = event.message as { content?: unknown } | undefined;
  if (!Array.isArray(message?.content)) return [];
  const pieces: string[] = [];
  for (const block of message.content as Record<string, unknown>[]) {
    if (block.type === 'text' && typeof block.text === 'string' && block.text !== '') {
      pieces.push(block.text.endsWith('\n') ? block.text : `${block.text}\n`);
    } else if (block.type === 'tool_use' && typeof block.name === 'string') {
      const subject = toolSubject(block.input, cwd);
      pieces.push(`→ ${block.name}${subject ? ` ${subject}` : ''}\n`);
    }
  }
  return pieces;
}

function toolSubject(input: unknown, cwd: string): string {
  if (typeof input !== 'object' || input === null) return '';
  const fields = input as Record<string, unknown>;
  for (const key of ['file_path', 'notebook_path', 'path']) {
    const value = fields[key];
    if (typeof value === 'string') {
      const rel = isAbsolute(value) ? relative(cwd, value) : value;
      return rel.startsWith('..') ? value : rel || '.';
    }
  }
  for (const key of ['command', 'pattern', 'url', 'description', 'prompt']) {
    const value = fields[key];
    if (typeof value === 'string') {
      const firstLine = value.split('\n')[0] ?? '';
      return firstLine.length > 80 ? `${firstLine.slice(0, 79)}…` : firstLine;
    }
  }
  return '';
}

/**
 * Agents run detached, so the daemon dying would leave them working. While any runs, an exit hook kills
 * their groups; it is the only synchronous thing that still works at that point.
 */
const liveGroups = new Set<AgentProcess>();
let exitHookInstalled = false;

function ensureExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const agent of liveGroups) agent.killNow();
  });
}
