import { keyFingerprint } from '../quota/key-fingerprint.js';
import { ModelError } from './model-error.js';
import type { ModelProvider, ModelRequest, ModelResponse } from './provider.js';

export interface AnthropicProviderOptions {
  apiKey: string | undefined;
  /** Any Anthropic-compatible endpoint; without it the SDK uses ANTHROPIC_BASE_URL, else api.anthropic.com. */
  baseURL?: string;
  /** Limit for a whole call, connection and stream; past it the call fails as recoverable. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10 * 60_000;

/**
 * The `anthropic` provider: one streamed Messages API call per request through the official SDK (see
 * anthropic-call.ts, loaded on the first call).
 */
export function createAnthropicProvider(options: AnthropicProviderOptions): ModelProvider {
  const { apiKey } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const secrets = apiKey ? [apiKey] : [];
  let call:
    Promise<(request: ModelRequest, secrets: readonly string[]) => Promise<ModelResponse>> | undefined;

  // Limits are per key and per model: two keys on one endpoint have two quotas, one key on two machines
  // (workers on Redis) one. The key is named by its fingerprint, made on the first call (a scrypt).
  const endpoint = options.baseURL ?? process.env['ANTHROPIC_BASE_URL'] ?? 'default';
  return {
    name: 'anthropic',
    quotaOf: (model) => ({ key: `anthropic ${endpoint} ${keyFingerprint(apiKey)} ${model}`, metered: true }),
    async complete(request) {
      if (!apiKey) {
        throw new ModelError(
          'permanent',
          'no Anthropic API key is configured; set ANTHROPIC_API_KEY or choose models.provider "simulated"',
        );
      }
      call ??= import('./anthropic-call.js').then((module) =>
        module.createAnthropicClient(apiKey, options.baseURL, timeoutMs),
      );
      return (await call)(request, secrets);
    },
  };
}
