import type { ProviderName, ToolRefusal, Usage } from '@orc/shared';
import type * as z from 'zod';
import type { ToolPermissions } from './tool-permissions.js';
import type { QuotaWait } from '../quota/quota-governor.js';
import type { RateLimitReport } from '../quota/rate-limit-report.js';

/** Why the model is called; the simulated provider answers each purpose in kind. */
export type ModelPurpose = 'plan' | 'work' | 'review' | 'final-review';

export interface ModelRequest {
  purpose: ModelPurpose;
  model: string;
  /** The stable part of the prompt (role, rules, goal); a cache breakpoint follows it. */
  system: string;
  /** The part that changes from call to call. */
  prompt: string;
  maxTokens: number;
  /** Structured output: the answer must be JSON matching this schema (sent as `output_config.format`). */
  outputSchema?: z.ZodType;
  signal: AbortSignal;
  /** Called with each piece of text as it streams in. */
  onText?: (text: string) => void;
  /** The directory an agent provider (claude-code) works in: the attempt's git worktree. */
  workdir?: string;
  /** An agent's session to go on with (claude-code), in the same `workdir`: an interrupted attempt's. */
  resume?: string;
  /** Called once, as soon as the agent's session id is known, before it has done any work. */
  onSession?: (sessionId: string) => void;
  /** Called for each tool call the agent was refused. */
  onRefusal?: (refusal: ToolRefusal) => void;
  /**
   * Who is asked about a tool call outside the permission mode, allowed tools and per-tool rules (the
   * run's inbox); the provider's own (refusing) when absent.
   */
  permissions?: ToolPermissions;
  /** The most the call may spend (USD): the run's remaining budget, or its task's when that is less. */
  budgetUsd?: number;
  /** Called when the answer's headers arrive, with what they say of the quota (no buckets: no limits).  */
  onRateLimits?: (report: RateLimitReport) => void;
  /**
   * The run's word for a long wait for quota where the call is made: a remote worker's governor holds the
   * call after the daemon admitted it. A local call's waits are told at its admission instead.
   */
  onQuotaWait?: (wait: QuotaWait) => void;
  /** Called once when the answer's first text arrives: the prompt has been read (and its prefix cached). */
  onAnswer?: () => void;
}

export interface ModelResponse {
  text: string;
  usage: Usage;
  /** `end_turn`, `max_tokens`, … as the model reported it. */
  stopReason: string;
  /** What the call cost as the provider reported it (claude-code); otherwise priced from usage. */
  costUsd?: number;
  /** Provider-specific facts worth keeping with the attempt (claude-code: sessionId, numTurns, durationMs). */
  meta?: Record<string, unknown>;
}

/** Whose quota a call spends: calls with the same key share one set of limits. */
export interface QuotaIdentity {
  key: string;
  /** Answers carry the API's rate-limit headers, so the quota can be paced; otherwise only waits apply. */
  metered: boolean;
}

/** One model call, whatever is behind it. Failures are thrown as `ModelError`. */
export interface ModelProvider {
  readonly name: ProviderName;
  complete(request: ModelRequest): Promise<ModelResponse>;
  /** The quota a call on `model` spends; none for a provider without one (the simulation). */
  quotaOf?(model: string): QuotaIdentity | undefined;
}
