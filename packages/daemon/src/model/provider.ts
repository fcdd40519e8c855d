import type { ProviderName, Usage } from '@orc/shared';
import type * as z from 'zod';

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
}

export interface ModelResponse {
  text: string;
  usage: Usage;
  /** `end_turn`, `max_tokens`, … as the model reported it. */
  stopReason: string;
}

/** One model call, whatever is behind it. Failures are thrown as `ModelError`. */
export interface ModelProvider {
  readonly name: ProviderName;
  complete(request: ModelRequest): Promise<ModelResponse>;
}
