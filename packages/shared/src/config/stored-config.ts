import { urlWithoutPassword } from '../redact.js';
import type { ResolvedConfig } from './config.schema.js';

/**
 * What a stored run configuration holds instead of a `claude_cli.environment` value: the name says the
 * agents get the variable, the value is kept apart (see `storedConfig`).
 */
export const WITHHELD_VALUE = '(withheld)';

/**
 * A run's configuration as it is written to its document, journalled in `run.created` and sent to every
 * client: without what can be a secret. `claude_cli.environment` is where a user puts a token for the
 * agents (a GitHub token for `gh`), so its values are withheld (the run keeps them in a file of its own);
 * `notifications.webhook` is the daemon's and its URL is its password, so it is left out. `redis.url`
 * is kept (a restored run goes on on the server it was started on) without a password it may carry.
 */
export function storedConfig(config: ResolvedConfig): ResolvedConfig {
  const { webhook: _webhook, ...notifications } = config.notifications;
  const environment = Object.fromEntries(
    Object.keys(config.claude_cli.environment).map((name) => [name, WITHHELD_VALUE]),
  );
  return {
    ...config,
    notifications,
    claude_cli: { ...config.claude_cli, environment },
    redis: { ...config.redis, url: urlWithoutPassword(config.redis.url) },
  };
}

/**
 * A stored configuration with the environment's values put back from `kept` (the run's own file); a name
 * whose value was not kept is dropped rather than given the placeholder as its value.
 */
export function withEnvironment(config: ResolvedConfig, kept: Record<string, string>): ResolvedConfig {
  const environment = Object.fromEntries(
    Object.entries(config.claude_cli.environment).flatMap(([name, value]) => {
      if (value !== WITHHELD_VALUE) return [[name, value]];
      const restored = kept[name];
      return restored === undefined ? [] : [[name, restored]];
    }),
  );
  return { ...config, claude_cli: { ...config.claude_cli, environment } };
}
