import type { ProviderName, ResolvedConfig } from '@orc/shared';
import type { Clock } from '../clock.js';
import { createAnthropicProvider } from '../model/anthropic-provider.js';
import { createClaudeCodeProvider } from '../model/claude-code-provider.js';
import type { ModelProvider } from '../model/provider.js';
import { createSimulatedProvider } from '../model/simulated-provider.js';

/** Builds the provider of one role of one run; tests pass their own. */
export type ProviderFactory = (
  name: ProviderName,
  config: ResolvedConfig,
  context: { apiKey: string | undefined; clock: Clock },
) => ModelProvider;

/** The providers a user has: the Anthropic API, Claude Code agents, and the offline simulation. */
export const defaultProviders: ProviderFactory = (name, config, { apiKey, clock }) => {
  switch (name) {
    case 'simulated':
      return createSimulatedProvider({
        seed: config.simulated.seed,
        latencyMs: config.simulated.latency_ms,
        clock,
      });
    case 'anthropic':
      return createAnthropicProvider({
        apiKey,
        ...(config.models.base_url !== undefined && { baseURL: config.models.base_url }),
      });
    case 'claude-code': {
      const cli = config.claude_cli;
      return createClaudeCodeProvider({
        ...(cli.command !== undefined && { command: cli.command }),
        ...(apiKey !== undefined && { apiKey }),
        ...(config.models.base_url !== undefined && { baseURL: config.models.base_url }),
        flags: {
          permission_mode: cli.permission_mode,
          dangerously_skip_permissions: cli.dangerously_skip_permissions,
          ...(cli.allowed_tools && { allowed_tools: cli.allowed_tools }),
          ...(cli.disallowed_tools && { disallowed_tools: cli.disallowed_tools }),
          ...(cli.max_turns !== undefined && { max_turns: cli.max_turns }),
          ...(cli.add_dirs && { add_dirs: cli.add_dirs }),
          permissions: cli.permissions,
        },
        environment: cli.environment,
        timeoutMs: config.execution.worker_timeout * 1000,
        // A usage limit's reset is an instant the run waits for on the same Clock.
        now: () => clock.now(),
      });
    }
  }
};
