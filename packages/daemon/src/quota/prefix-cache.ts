import { createHash } from 'node:crypto';

/** The API keeps a cached prefix five minutes after its last use. */
export const CACHE_TTL_MS = 5 * 60_000;

/**
 * The shortest prefix the API caches, in tokens: 1,024 for Sonnet and Opus, 2,048 for Haiku. A shorter
 * marked prefix is neither written nor read; the whole prompt is charged as input each time.
 */
export function minimumCacheableTokens(model: string): number {
  return /haiku/i.test(model) ? 2048 : 1024;
}

export function prefixHash(text: string): string {
  return createHash('sha1').update(text).digest('base64url');
}

export type PrefixState = 'absent' | 'writing' | 'cached';

interface Entry {
  /** The call writing it (its admission number) until its answer begins; then it is cached. */
  writer: number | undefined;
  usedAt: number;
  cached: boolean;
}

/**
 * Which cacheable prefixes one model's cache holds, as far as the daemon can tell: a prefix is written
 * by the first call that carries it and can be read once that call's answer has begun (the API makes a
 * cache entry available only then), until five minutes after its last use. The governor uses it twice:
 * a call whose prefix will be read is charged only its uncached input, and while one call writes a
 * prefix the others that carry it wait for it, so a run's first wave of calls reads the cache instead
 * of writing it sixteen times.
 */
export class PrefixCache {
  private readonly entries = new Map<string, Entry>();

  state(hash: string, now: number): PrefixState {
    const entry = this.entries.get(hash);
    if (!entry) return 'absent';
    if (entry.cached && now - entry.usedAt <= CACHE_TTL_MS) return 'cached';
    if (entry.writer !== undefined) return 'writing';
    return 'absent';
  }

  /** A call carrying the prefix was sent: it writes the prefix unless it is cached or being written. */
  sent(hash: string, call: number, now: number): void {
    const state = this.state(hash, now);
    const entry = this.entries.get(hash);
    if (state === 'cached') entry!.usedAt = now;
    else if (state === 'absent') this.entries.set(hash, { writer: call, usedAt: now, cached: false });
    this.prune(now);
  }

  /** The call's answer began: whatever it carried is cached now. */
  answered(hash: string, call: number, now: number): void {
    const entry = this.entries.get(hash);
    if (!entry) return;
    if (entry.writer === call || entry.writer === undefined) {
      entry.writer = undefined;
      entry.cached = true;
    }
    entry.usedAt = Math.max(entry.usedAt, now);
  }

  /** The call ended without an answer: if it was the writer, the next call writes instead. */
  failed(hash: string, call: number): void {
    const entry = this.entries.get(hash);
    if (entry?.writer === call) {
      entry.writer = undefined;
      if (!entry.cached) this.entries.delete(hash);
    }
  }

  private prune(now: number): void {
    if (this.entries.size < 256) return;
    for (const [hash, entry] of this.entries) {
      if (entry.writer === undefined && now - entry.usedAt > CACHE_TTL_MS) this.entries.delete(hash);
    }
  }
}
