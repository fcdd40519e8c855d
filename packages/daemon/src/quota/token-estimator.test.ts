import { ZERO_USAGE } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { TokenEstimator, type CallShape } from './token-estimator.js';

const call = (over: Partial<CallShape> = {}): CallShape => ({
  purpose: 'work',
  model: 'claude-sonnet-5-5',
  system: 's'.repeat(4000),
  prompt: 'p'.repeat(400),
  maxTokens: 2000,
  ...over,
});

describe('TokenEstimator', () => {
  it('starts at four characters a token and max_tokens, then learns each model from its answers', () => {
    const estimator = new TokenEstimator();
    expect(estimator.estimate(call())).toEqual({ prefixTokens: 1000, promptTokens: 100, outputTokens: 2000 });
    // This model's tokenizer: three characters a token (4,400 characters, 1,467 tokens).
    for (let i = 0; i < 30; i++)
      estimator.learn(call(), {
        ...ZERO_USAGE,
        inputTokens: 134,
        cacheReadTokens: 1333,
        outputTokens: 300 + i,
      });
    const learned = estimator.estimate(call());
    expect(learned.prefixTokens).toBeGreaterThan(1300);
    expect(learned.prefixTokens).toBeLessThan(1340);
    // The 90th percentile of what similar answers used: 300..329.
    expect(learned.outputTokens).toBe(326);
    // Another purpose has not been seen: max_tokens.
    expect(estimator.estimate(call({ purpose: 'review' })).outputTokens).toBe(2000);
    expect(estimator.inputError.calls).toBe(30);
    expect(estimator.inputError.mean).toBeGreaterThan(0);
  });
});
