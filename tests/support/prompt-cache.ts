/**
 * The stand-in's prompt cache, as the API documents its own: the prefix up to a `cache_control`
 * breakpoint is cached when it is at least the model's minimum length (1,024 tokens for Sonnet and Opus,
 * 2,048 for Haiku), written by a request whose answer has begun (a request sent before that writes it
 * again), and read by any later request with the same model and prefix for five minutes after its last use.
 */

const TTL_MS = 5 * 60_000;

export function minimumCacheableTokens(model: string): number {
  return /haiku/i.test(model) ? 2048 : 1024;
}

export interface PrefixUsage {
  cacheRead: number;
  cacheWrite: number;
  /** Tokens of the prefix charged as plain input (a prefix too short to cache, or no breakpoint). */
  uncached: number;
}

export class PromptCache {
  private readonly entries = new Map<string, number>();

  /** How a request's prefix of `tokens` is charged, as it arrives. */
  charge(model: string, prefix: string, tokens: number, marked: boolean, now: number): PrefixUsage {
    if (!marked || tokens < minimumCacheableTokens(model))
      return { cacheRead: 0, cacheWrite: 0, uncached: tokens };
    const key = `${model}\u0000${prefix}`;
    const usedAt = this.entries.get(key);
    if (usedAt !== undefined && now - usedAt <= TTL_MS) {
      this.entries.set(key, now);
      return { cacheRead: tokens, cacheWrite: 0, uncached: 0 };
    }
    return { cacheRead: 0, cacheWrite: tokens, uncached: 0 };
  }

  /** The answer to a request that wrote (or read) the prefix has begun: it is readable from now on. */
  written(model: string, prefix: string, now: number): void {
    this.entries.set(`${model}\u0000${prefix}`, now);
  }
}
