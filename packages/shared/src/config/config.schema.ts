import * as z from 'zod';
import { InboxItemType } from '../inbox.js';

/** Where each model call goes: the Anthropic API, the `claude` CLI, or the offline simulator. */
export const ProviderName = z.enum(['anthropic', 'claude-code', 'simulated']);
export type ProviderName = z.infer<typeof ProviderName>;

const positiveInt = z.number().int().positive();
const seconds = z.number().positive();

/** `model` has a default so one layer can set only `max_tokens` or `provider` of a role. */
const modelRole = (defaultModel: string) =>
  z
    .strictObject({
      model: z.string().min(1).default(defaultModel),
      /** Overrides `models.provider` for this role (plan and review through the API, work through Claude Code). */
      provider: ProviderName.optional(),
      max_tokens: positiveInt.default(8192),
    })
    .prefault({});

/** What pushes a notification: each kind of inbox item, and each way a run ends. */
export const NotifyOn = z.enum([...InboxItemType.options, 'run_completed', 'run_failed', 'run_cancelled']);
export type NotifyOn = z.infer<typeof NotifyOn>;

/** What a tool call outside the permission mode and allowed tools gets: allowed, denied, or a person asked. */
export const ToolRule = z.enum(['allow', 'deny', 'ask']);
export type ToolRule = z.infer<typeof ToolRule>;

/** Dollars per million tokens. Cache reads default to a tenth of input, cache writes to 1.25 × input (the API's prices). */
export const ModelPrice = z.strictObject({
  input: z.number().nonnegative(),
  output: z.number().nonnegative(),
  cache_read: z.number().nonnegative().optional(),
  cache_write: z.number().nonnegative().optional(),
});
export type ModelPrice = z.infer<typeof ModelPrice>;

export const DEFAULT_PRICES: Record<string, ModelPrice> = {
  'claude-opus-5-5': { input: 4, output: 20 },
  'claude-sonnet-5-5': { input: 2, output: 10 },
};

/**
 * The configuration file, as users write it. The seed's keys are accepted as written; unknown keys are
 * errors so a typo never silently falls back to a default.
 */
export const ConfigSchema = z.strictObject({
  $schema: z.string().optional(),
  models: z
    .strictObject({
      /** Unset: `anthropic` when an API key is configured, otherwise `simulated`. */
      provider: ProviderName.optional(),
      base_url: z.url().optional(),
      manager: modelRole('claude-opus-5-5'),
      worker: modelRole('claude-sonnet-5-5'),
      /** Added to the built-in table, so pricing one more model keeps the current models' prices. */
      prices: z
        .record(z.string(), ModelPrice)
        .default({})
        .transform((prices) => ({ ...DEFAULT_PRICES, ...prices })),
    })
    .prefault({}),
  execution: z
    .strictObject({
      max_workers: positiveInt.max(256).default(3),
      worker_timeout: seconds.default(1800),
      manager_timeout: seconds.default(300),
      max_retries: z.number().int().nonnegative().default(3),
      /** How many times the manager may send one task back for rework before it fails. */
      max_reworks: z.number().int().nonnegative().default(2),
      max_cost_usd: z.number().positive().optional(),
      /** The most one task may cost (its attempts and their reviews); a task that would pass it fails. */
      max_task_cost_usd: z.number().positive().optional(),
      /** Daemon-wide cap on model calls in flight, shared by every run. */
      machine_max_in_flight: positiveInt.default(16),
      /** A planned run waits after planning until a person approves, edits or refuses the plan. */
      approve_plan: z.boolean().default(false),
      /**
       * Where attempts run: `local` in the daemon (the fastest on one machine), or `redis`: each attempt
       * is a BullMQ job on the `redis` server and `orc worker` processes on any machine run them.
       */
      backend: z.enum(['local', 'redis']).default('local'),
    })
    .prefault({}),
  /** The Redis server of `execution.backend: "redis"` (the daemon's own config). */
  redis: z
    .strictObject({
      /** `redis://host:port/db`, or `rediss://` for TLS. A password belongs in `password_env`, not here. */
      url: z
        .string()
        .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
        .default('redis://127.0.0.1:6379'),
      /** An ACL user (Redis 6+); unset: the default user. */
      username: z.string().min(1).optional(),
      /** The environment variable holding the password, so it is never written in a file we keep. */
      password_env: z.string().min(1).default('ORC_REDIS_PASSWORD'),
      /** TLS even with a `redis://` URL; `rediss://` implies it. */
      tls: z.boolean().default(false),
      /** The daemon's queue; unset: `orc-<daemon id>`, made once per state directory. */
      queue: z
        .string()
        .regex(/^[A-Za-z0-9_.-]+$/, 'must be letters, digits, _ . or -')
        .optional(),
      /**
       * Seconds after which a job whose worker stopped renewing its lock (killed, cut off) is handed to
       * another worker: BullMQ's stall interval.
       */
      stall_seconds: seconds.default(30),
    })
    .prefault({}),
  /** The repository of a run whose workers are Claude Code agents. */
  repository: z
    .strictObject({
      /**
       * Where `orc worker` processes on other machines fetch the run and push its task branches
       * (`execution.backend: "redis"`): a remote of the repository by name, or a git URL.
       */
      remote: z.string().trim().min(1).default('origin'),
    })
    .prefault({}),
  monitoring: z
    .strictObject({
      progress_interval: seconds.default(10),
      verbose_logging: z.boolean().default(false),
      show_progress_bar: z.boolean().default(true),
      /**
       * Serve Prometheus metrics on this port of 127.0.0.1 (never another address), to clients that show
       * the daemon's token as a bearer; 0 picks a free port (see `orc daemon status`). Unset: not served.
       */
      metrics_port: z.number().int().min(0).max(65_535).optional(),
    })
    .prefault({}),
  checkpoints: z
    .strictObject({
      every_n_tasks: z.number().int().nonnegative().default(10),
    })
    .prefault({}),
  /** How Claude Code runs when a role's provider is `claude-code`. */
  claude_cli: z
    .strictObject({
      /** A `claude` executable (a path, or a name on PATH); unset: the one the Agent SDK bundles. */
      command: z.string().min(1).optional(),
      /**
       * What the agent may do without asking: `acceptEdits` edits files in its worktree; `default` and
       * `dontAsk` only what `allowed_tools` lists; `plan` nothing. Anything else is refused and recorded.
       */
      permission_mode: z
        .enum(['default', 'acceptEdits', 'dontAsk', 'bypassPermissions', 'plan'])
        .default('acceptEdits'),
      /** Explicit opt-in: agents may run any tool without asking. */
      dangerously_skip_permissions: z.boolean().default(false),
      allowed_tools: z.array(z.string()).optional(),
      disallowed_tools: z.array(z.string()).optional(),
      max_turns: z.number().int().positive().optional(),
      add_dirs: z.array(z.string()).optional(),
      /** Extra environment variables for the agents. */
      environment: z.record(z.string(), z.string()).default({}),
      /**
       * What a tool call outside the permission mode and allowed tools gets, by tool name (`Bash`,
       * `WebFetch`, `mcp__server__tool`) or `*` for any other: `allow`, `deny`, or `ask` a person through
       * the inbox (the default).
       */
      permissions: z.record(z.string().min(1), ToolRule).default({}),
      /** Seconds a permission waits for a person before it is denied. */
      permission_timeout: seconds.default(600),
    })
    .prefault({}),
  /** Pushes when something waits for a person, and when a run ends (the daemon's own config). */
  notifications: z
    .strictObject({
      /** Run with `sh -c`, the notification as JSON on its stdin. */
      command: z.string().min(1).optional(),
      /** POSTed JSON with a `text` field (a Slack or Discord incoming webhook works as is). */
      webhook: z.url().optional(),
      /** `notify-send` where it exists. */
      desktop: z.boolean().default(false),
      /** The terminal bell in an attached terminal UI. */
      bell: z.boolean().default(true),
      /** What notifies; by default every kind of inbox item and every run end. */
      on: z.array(NotifyOn).default([...NotifyOn.options]),
      /** A permission notifies only if nobody answered it within this many seconds. */
      grace_seconds: z.number().nonnegative().default(30),
    })
    .prefault({}),
  /** The merge train of a repository run: accepted work lands on `orc/<run>` only once this passes. */
  integration: z
    .strictObject({
      /** A shell command (`sh -c`) run in the merged tree, e.g. "npm test"; unset: work lands unverified. */
      verify: z.string().trim().min(1).optional(),
      /** Seconds before a verify is killed and counted as failed. */
      verify_timeout: seconds.default(600),
      /** How many waiting tasks one verify may take together (split on failure to find the culprit). */
      verify_batch: positiveInt.max(64).default(4),
    })
    .prefault({}),
  simulated: z
    .strictObject({
      seed: z.number().int().default(1),
      /** Per-call latency range in milliseconds; zero for benchmarks. */
      latency_ms: z
        .strictObject({
          min: z.number().nonnegative().default(200),
          max: z.number().nonnegative().default(800),
        })
        .prefault({}),
    })
    .prefault({}),
});

export type ConfigInput = z.input<typeof ConfigSchema>;
export type ParsedConfig = z.output<typeof ConfigSchema>;

/** Config with every default applied and the provider decided, so nothing downstream checks for undefined. */
export type ResolvedConfig = ParsedConfig & {
  models: ParsedConfig['models'] & { provider: ProviderName };
};

/** The config schema as JSON Schema, for editors (`orc config schema`). */
export function configJsonSchema(): unknown {
  return z.toJSONSchema(ConfigSchema, { io: 'input' });
}
