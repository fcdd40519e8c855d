import type { Usage } from '@orc/shared';
import type { ModelPurpose } from '../model/provider.js';

/** What the governor knows of a call before it is sent. */
export interface CallShape {
  purpose: ModelPurpose;
  model: string;
  /** The stable, cache-marked prefix. */
  system: string;
  /** The part after it. */
  prompt: string;
  maxTokens: number;
}

/** A call's expected size, in tokens. */
export interface CallEstimate {
  /** The prefix's tokens (0 when it has none). */
  prefixTokens: number;
  /** The rest of the prompt. */
  promptTokens: number;
  /** The answer: what similar calls used, never more than max_tokens. */
  outputTokens: number;
}

/** English text runs about four characters a token; each model's own figure is measured as calls come back. */
const INITIAL_TOKENS_PER_CHAR = 0.25;
/** Weight of the past in the measured figure: about the last 20 calls count. */
const DECAY = 0.95;
/** Answers of the same model and purpose remembered for the output estimate. */
const OUTPUTS_KEPT = 50;

/**
 * Estimates a call's tokens before it is sent, locally: counting the prompt through `messages.countTokens`
 * would cost a request of its own against a limit of its own for every call. The input is the prompt's
 * length times the model's tokens per character, measured from every answer's usage (the error is kept:
 * `inputError`); the output is the 90th percentile of what the last 50 calls of the same model and
 * purpose used (at least their mean), within `max_tokens`, and `max_tokens` until one has come back.
 */
export class TokenEstimator {
  private readonly ratios = new Map<string, { tokens: number; chars: number }>();
  private readonly outputs = new Map<string, number[]>();
  private errors = { sum: 0, count: 0 };

  estimate(call: CallShape): CallEstimate {
    const ratio = this.tokensPerChar(call.model);
    return {
      prefixTokens: Math.ceil(call.system.length * ratio),
      promptTokens: Math.ceil(call.prompt.length * ratio),
      outputTokens: this.outputEstimate(call),
    };
  }

  /** A call came back with its usage: the figures learn from it. */
  learn(call: CallShape, usage: Usage): void {
    const actual = usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens;
    const chars = call.system.length + call.prompt.length;
    if (actual > 0 && chars > 0) {
      const expected = chars * this.tokensPerChar(call.model);
      this.errors = {
        sum: this.errors.sum + Math.abs(expected - actual) / actual,
        count: this.errors.count + 1,
      };
      const past = this.ratios.get(call.model) ?? { tokens: 0, chars: 0 };
      this.ratios.set(call.model, {
        tokens: past.tokens * DECAY + actual,
        chars: past.chars * DECAY + chars,
      });
    }
    const key = `${call.model} ${call.purpose}`;
    const kept = this.outputs.get(key) ?? [];
    kept.push(usage.outputTokens);
    if (kept.length > OUTPUTS_KEPT) kept.shift();
    this.outputs.set(key, kept);
  }

  /** The mean relative error of the input estimates so far (0.05 is 5 %), over `calls`. */
  get inputError(): { mean: number; calls: number } {
    return {
      mean: this.errors.count === 0 ? 0 : this.errors.sum / this.errors.count,
      calls: this.errors.count,
    };
  }

  private tokensPerChar(model: string): number {
    const measured = this.ratios.get(model);
    return measured && measured.chars > 0 ? measured.tokens / measured.chars : INITIAL_TOKENS_PER_CHAR;
  }

  private outputEstimate(call: CallShape): number {
    const seen = this.outputs.get(`${call.model} ${call.purpose}`);
    if (!seen || seen.length === 0) return call.maxTokens;
    const sorted = [...seen].sort((a, b) => a - b);
    const p90 = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.9) - 1)]!;
    const mean = seen.reduce((sum, n) => sum + n, 0) / seen.length;
    return Math.min(call.maxTokens, Math.max(1, Math.ceil(Math.max(p90, mean))));
  }
}
