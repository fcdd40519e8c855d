import { readFileSync } from 'node:fs';
import type { ConfigInput } from '@orc/shared';

/**
 * Whether the user chose the provider (a flag, ORC_PROVIDER, or `models.provider` in a config file).
 * Only a chosen provider is sent with a run; otherwise the daemon decides from its own API key.
 */
export function providerIsExplicit(sources: string[], overrides: ConfigInput = {}): boolean {
  if (overrides.models?.provider !== undefined || process.env['ORC_PROVIDER']) return true;
  return sources.some((file) => {
    try {
      const values = JSON.parse(readFileSync(file, 'utf8')) as { models?: { provider?: unknown } };
      return values.models?.provider !== undefined;
    } catch {
      return false;
    }
  });
}
