import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type * as AgentSdkModule from '@anthropic-ai/claude-agent-sdk';
import type {
  Options,
  PermissionMode,
  SDKMessage,
  SDKRateLimitInfo,
  SDKResultMessage,
  SDKUserMessage,
} from '@anthropic-ai/claude-agent-sdk';
import type { ToolRefusal, ToolRule } from '@orc/shared';
import * as z from 'zod';
import { AgentProcess } from './agent-process.js';
import { resolveClaudeCommand } from './claude-code-binary.js';
import { classifyFailure, startFailure, usageOf } from './claude-code-outcome.js';
import { CallCancelledError, ModelError } from './model-error.js';
import { PromptStream } from './prompt-stream.js';
import type { ModelProvider, ModelRequest, ModelResponse } from './provider.js';
import {
  assistantText,
  refusalMessage,
  refuseUnlistedTools,
  toolRule,
  toolSubject,
  type ToolDecision,
  type ToolPermissions,
} from './tool-permissions.js';

/** The `claude_cli` settings a user may give, spelled as in the config file. */
export interface ClaudeCliFlags {
  /** What the agent may do without asking: default, acceptEdits, dontAsk, plan, bypassPermissions. */
  permission_mode?: PermissionMode;
  /** Any tool without asking, only on explicit opt-in. */
  dangerously_skip_permissions?: boolean;
  /** Tools allowed without asking, e.g. `["Edit", "Bash(npm test:*)"]`. */
  allowed_tools?: string[];
  disallowed_tools?: string[];
  max_turns?: number;
  /** Directories beyond the worktree the agent may use. */
  add_dirs?: string[];
  /** Calls outside the rules above: allowed, denied or asked about, by tool name or `*` (default ask). */
  permissions?: Record<string, ToolRule>;
}

export interface ClaudeCodeProviderOptions {
  /** A `claude` executable (a path, or a name on PATH); by default the binary the Agent SDK bundles. */
  command?: string;
  flags: ClaudeCliFlags;
  /** Variables added to the agent's environment (`claude_cli.environment`). */
  environment?: Record<string, string>;
  /** The environment the agent starts from; default the daemon's. */
  env?: NodeJS.ProcessEnv;
  /** Given to the agent as ANTHROPIC_API_KEY when set (a Claude Code login works without it). */
  apiKey?: string;
  /** Given to the agent as ANTHROPIC_BASE_URL when set. */
  baseURL?: string;
  /** Limit for one call; past it the process group is stopped and the call fails as recoverable. */
  timeoutMs?: number;
  /** Between SIGTERM and SIGKILL when the process group is stopped. */
  killGraceMs?: number;
  /** Who answers a tool call outside the permission mode and allowed tools; refused by default. */
  permissions?: ToolPermissions;
  /** For reading reset times ("resets 2:16am"); the system clock by default. */
  now?: () => number;
}

/** A provider that owns processes: `stop()` ends every agent still running (daemon shutdown). */
export interface ClaudeCodeProvider extends ModelProvider {
  stop(): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 30 * 60_000;
const DEFAULT_KILL_GRACE_MS = 3_000;

/**
 * The `claude-code` provider: each call is one Claude Code session through the Agent SDK's `query()`, in
 * the request's working directory (the attempt's worktree). The session id is reported as soon as it is
 * known, an interrupted session can be resumed, tool calls outside the rules are refused and reported,
 * and the result's usage, cost and errors (usage limits included) come back typed.
 */
export function createClaudeCodeProvider(options: ClaudeCodeProviderOptions): ClaudeCodeProvider {
  const running = new Set<AgentCall>();
  return {
    name: 'claude-code',
    // A usage limit is the account's, whatever the model: every Claude Code call waits for its reset.
    quotaOf: () => ({ key: `claude-code ${options.baseURL ?? 'account'}`, metered: false }),
    complete(request) {
      if (request.signal.aborted) {
        return Promise.reject(new CallCancelledError('the model call was cancelled before it started'));
      }
      const call = new AgentCall(options, request);
      running.add(call);
      return call.result.finally(() => running.delete(call));
    },
    async stop() {
      await Promise.all([...running].map((call) => call.stop()));
    },
  };
}

type Ending = { kind: 'cancelled' } | { kind: 'timeout' } | { kind: 'callback'; error: unknown };

type AgentSdk = typeof AgentSdkModule;
let sdk: Promise<AgentSdk> | undefined;

/** Loaded on the first call, so a daemon that never runs Claude Code never loads the 1.4 MB module. */
function loadSdk(): Promise<AgentSdk> {
  sdk ??= import('@anthropic-ai/claude-agent-sdk').catch((error: unknown) => {
    sdk = undefined;
    throw new ModelError(
      'permanent',
      `the claude-code provider needs @anthropic-ai/claude-agent-sdk, which could not be loaded (${error instanceof Error ? error.message.split('\n')[0] : String(error)}); run npm install where orc is installed`,
    );
  });
  return sdk;
}

/** One Claude Code session, from the first message to the process's exit. */
class AgentCall {
  readonly result: Promise<ModelResponse>;
  private readonly abort = new AbortController();
  /** The Claude Code process of the session under way. */
  private process: AgentProcess;
  private ending: Ending | undefined;
  private readonly workdir: string;
  /** Refused tool calls already reported, by tool_use id: each is reported once whatever tells of it. */
  private readonly refused = new Set<string>();

  constructor(
    private readonly options: ClaudeCodeProviderOptions,
    private readonly request: ModelRequest,
  ) {
    this.workdir = request.workdir ?? tmpdir();
    this.process = new AgentProcess(request.workdir, options.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
    this.result = this.run();
  }

  stop(reason: Ending = { kind: 'cancelled' }): Promise<void> {
    this.ending ??= reason;
    this.abort.abort();
    this.process.stop();
    return this.result.then(
      () => undefined,
      () => undefined,
    );
  }

  private async run(): Promise<ModelResponse> {
    const { request, options } = this;
    const env = this.environment();
    if (request.workdir !== undefined && !existsSync(request.workdir)) {
      throw new ModelError('permanent', `the agent's working directory ${request.workdir} does not exist`);
    }
    const command = resolveClaudeCommand(options.command, env['PATH']);
    const { query } = await loadSdk();
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    // The agent is a process running in real time: its limit is a real timer (the run's own deadline
    // for the attempt goes through the Clock, run/deadline.ts).
    const timer = setTimeout(() => void this.stop({ kind: 'timeout' }), timeoutMs);
    const onAbort = (): void => void this.stop({ kind: 'cancelled' });
    request.signal.addEventListener('abort', onAbort, { once: true });
    try {
      let session = await this.session(query, command, env, request.resume);
      if (request.resume !== undefined && !this.ending && lostSession(session.result)) {
        // Its conversation is gone (another Claude Code home, a cleared history): a new session goes on in
        // the same worktree, from a prompt that carries the task.
        this.text('(the interrupted session was not found; a new one goes on in the same worktree)\n');
        session = await this.session(query, command, env, undefined);
      }
      return this.settle(session.result, session.failure, {
        rateLimit: session.rateLimit,
        command,
        timeoutMs,
      });
    } finally {
      clearTimeout(timer);
      request.signal.removeEventListener('abort', onAbort);
    }
  }

  /** One Claude Code process: the prompt in, its messages out until it exits. */
  private async session(
    query: AgentSdk['query'],
    command: string | undefined,
    env: Record<string, string | undefined>,
    resume: string | undefined,
  ): Promise<{ result?: SDKResultMessage; rateLimit?: SDKRateLimitInfo; failure?: unknown }> {
    const { request } = this;
    this.process = new AgentProcess(request.workdir, this.options.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
    const input = new PromptStream<SDKUserMessage>({
      type: 'user',
      message: { role: 'user', content: request.prompt },
      parent_tool_use_id: null,
    });
    const outcome: { result?: SDKResultMessage; rateLimit?: SDKRateLimitInfo; failure?: unknown } = {};
    let sessionId: string | undefined;
    try {
      for await (const message of query({ prompt: input, options: this.sdkOptions(command, env, resume) })) {
        if (this.ending) continue;
        if (sessionId === undefined && 'session_id' in message && message.session_id) {
          const known = message.session_id;
          sessionId = known;
          this.callback(() => request.onSession?.(known));
        }
        if (message.type === 'result') {
          outcome.result = message;
          // One task, one turn: the agent may exit once its answer is in.
          input.end();
        } else if (message.type === 'rate_limit_event') {
          if (message.rate_limit_info.status === 'rejected') outcome.rateLimit = message.rate_limit_info;
        } else this.onMessage(message);
      }
    } catch (error) {
      outcome.failure = error;
    } finally {
      input.end();
      this.process.stop();
      await this.process.exited();
    }
    return outcome;
  }

  private onMessage(message: SDKMessage): void {
    if (message.type === 'assistant' && message.parent_tool_use_id === null) {
      for (const piece of assistantText(message.message.content, this.workdir)) this.text(piece);
    } else if (message.type === 'system' && message.subtype === 'permission_denied') {
      // Refused without asking (a deny rule, dontAsk): reported like the refusals canUseTool makes.
      this.refuse(message.tool_use_id, message.tool_name, {}, message.decision_reason ?? message.message);
    } else if (message.type === 'system' && message.subtype === 'api_retry') {
      const status = message.error_status === null ? message.error : `${message.error_status}`;
      this.text(
        `(the API answered ${status}; Claude Code retries in ${Math.ceil(message.retry_delay_ms / 1000)}s)\n`,
      );
    }
  }

  private sdkOptions(
    command: string | undefined,
    env: Record<string, string | undefined>,
    resume: string | undefined,
  ): Options {
    const { request, options } = this;
    const { flags } = options;
    const common: Options = {
      abortController: this.abort,
      cwd: this.workdir,
      model: request.model,
      env,
      ...(command !== undefined && { pathToClaudeCodeExecutable: command }),
      systemPrompt: { type: 'preset', preset: 'claude_code', append: request.system },
      ...(request.budgetUsd !== undefined && { maxBudgetUsd: Math.max(request.budgetUsd, 0) }),
      ...(resume !== undefined && { resume }),
      spawnClaudeCodeProcess: (spawn) => this.process.spawn(spawn),
    };
    if (request.outputSchema !== undefined || request.purpose !== 'work') {
      // The manager plans and reviews from what its prompt says: no tool, no file, nothing kept.
      return {
        ...common,
        tools: [],
        permissionMode: 'dontAsk',
        settingSources: [],
        persistSession: false,
        ...(request.outputSchema !== undefined && {
          outputFormat: { type: 'json_schema', schema: jsonSchemaOf(request.outputSchema) },
        }),
      };
    }
    const bypass = flags.dangerously_skip_permissions === true;
    return {
      ...common,
      permissionMode: bypass ? 'bypassPermissions' : (flags.permission_mode ?? 'acceptEdits'),
      ...(bypass && { allowDangerouslySkipPermissions: true }),
      ...(flags.allowed_tools?.length && { allowedTools: flags.allowed_tools }),
      ...(flags.disallowed_tools?.length && { disallowedTools: flags.disallowed_tools }),
      ...(flags.max_turns !== undefined && { maxTurns: flags.max_turns }),
      ...(flags.add_dirs?.length && { additionalDirectories: flags.add_dirs }),
      canUseTool: async (tool, input, asked) => {
        const decision = await this.decide(tool, input, asked);
        if (decision.allow) {
          return {
            behavior: 'allow',
            updatedInput: input,
            ...(decision.forSession && asked.suggestions && { updatedPermissions: asked.suggestions }),
          };
        }
        this.refuse(asked.toolUseID, tool, input, decision.reason);
        return { behavior: 'deny', message: decision.message };
      },
    };
  }

  /** A call outside the permission mode and allowed tools: its rule in `claude_cli.permissions`, or a person. */
  private async decide(
    tool: string,
    input: Record<string, unknown>,
    asked: { signal: AbortSignal; decisionReason?: string; toolUseID: string },
  ): Promise<ToolDecision> {
    const rule = toolRule(this.options.flags.permissions, tool);
    if (rule === 'allow') return { allow: true };
    if (rule === 'deny') {
      const why = `claude_cli.permissions denies ${tool}`;
      return { allow: false, reason: why, message: refusalMessage(tool, why) };
    }
    const call = {
      id: asked.toolUseID,
      tool,
      input,
      workdir: this.workdir,
      ...(asked.decisionReason && { reason: asked.decisionReason }),
    };
    const asker = this.request.permissions ?? this.options.permissions ?? refuseUnlistedTools;
    return asker.decide(call, asked.signal);
  }

  private environment(): Record<string, string | undefined> {
    const { options } = this;
    return {
      ...(options.env ?? process.env),
      ...(options.apiKey !== undefined && { ANTHROPIC_API_KEY: options.apiKey }),
      ...(options.baseURL !== undefined && { ANTHROPIC_BASE_URL: options.baseURL }),
      CLAUDE_AGENT_SDK_CLIENT_APP: 'claude-orchestrator',
      ...options.environment,
    };
  }

  private refuse(toolUseId: string, tool: string, input: Record<string, unknown>, reason: string): void {
    if (this.refused.has(toolUseId)) return;
    this.refused.add(toolUseId);
    const refusal: ToolRefusal = {
      tool,
      subject: toolSubject(input, this.workdir),
      reason,
      at: new Date(this.options.now?.() ?? Date.now()).toISOString(),
    };
    this.callback(() => this.request.onRefusal?.(refusal));
  }

  private text(piece: string): void {
    this.callback(() => this.request.onText?.(piece));
  }

  /** A throwing callback is the caller's bug: the session stops and its error comes back unchanged. */
  private callback(call: () => void): void {
    if (this.ending) return;
    try {
      call();
    } catch (error) {
      void this.stop({ kind: 'callback', error });
    }
  }

  private settle(
    result: SDKResultMessage | undefined,
    failure: unknown,
    context: { rateLimit: SDKRateLimitInfo | undefined; command: string | undefined; timeoutMs: number },
  ): ModelResponse {
    const ending = this.ending;
    if (ending?.kind === 'cancelled') throw new CallCancelledError('the model call was cancelled');
    if (ending?.kind === 'callback') throw ending.error;
    if (ending?.kind === 'timeout') {
      throw new ModelError(
        'recoverable',
        `Claude Code did not finish within ${context.timeoutMs / 1000}s and was stopped`,
      );
    }
    if (result) {
      for (const denial of result.permission_denials) {
        this.refuse(denial.tool_use_id, denial.tool_name, denial.tool_input, 'refused');
      }
    }
    if (!result) {
      if (failure instanceof ModelError) throw failure;
      const known = startFailure(failure, this.options.command);
      if (known) throw known;
      const said = failure instanceof Error ? failure.message.split('\n')[0] : 'it exited without a result';
      const stderr = this.process.lastStderrLine;
      throw new ModelError(
        'transient',
        `Claude Code failed: ${said}${stderr && !said?.includes(stderr) ? ` (${stderr})` : ''}`,
      );
    }
    if (result.subtype !== 'success' || result.is_error) {
      throw classifyFailure(result, {
        ...(this.options.flags.max_turns !== undefined && { maxTurns: this.options.flags.max_turns }),
        ...(this.request.budgetUsd !== undefined && { budgetUsd: this.request.budgetUsd }),
        ...(context.rateLimit && { rateLimit: context.rateLimit }),
        now: this.options.now?.() ?? Date.now(),
      });
    }
    const structured = result.structured_output;
    return {
      text: structured !== undefined ? JSON.stringify(structured) : result.result,
      usage: usageOf(result),
      stopReason: result.stop_reason ?? 'end_turn',
      costUsd: result.total_cost_usd,
      meta: { sessionId: result.session_id, numTurns: result.num_turns, durationMs: result.duration_ms },
    };
  }
}

/** Claude Code could not find the session to resume: it answers at once, having done nothing. */
function lostSession(result: SDKResultMessage | undefined): boolean {
  return (
    result?.subtype === 'error_during_execution' &&
    result.errors.some((error) => /no conversation found/i.test(error))
  );
}

/** The JSON Schema Claude Code's StructuredOutput tool is given, from the zod schema of the answer. */
function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io: 'output' }) as Record<string, unknown>;
  delete json['$schema'];
  return json;
}
