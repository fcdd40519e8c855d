import type { ModelPrice, Usage } from '@orc/shared';

/**
 * Dollars for one call's usage; a model missing from the table costs 0 (and is logged by the caller).
 * Unless the table says otherwise, a cache read costs a tenth of input and a cache write 1.25 × input
 * (five-minute cache), as the API prices them.
 */
export function costOf(usage: Usage, price: ModelPrice | undefined): number {
  if (!price) return 0;
  const cacheRead = price.cache_read ?? price.input / 10;
  const cacheWrite = price.cache_write ?? price.input * 1.25;
  return (
    (usage.inputTokens * price.input +
      usage.outputTokens * price.output +
      usage.cacheReadTokens * cacheRead +
      usage.cacheWriteTokens * cacheWrite) /
    1_000_000
  );
}
