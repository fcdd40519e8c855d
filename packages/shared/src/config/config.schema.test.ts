import { describe, expect, it } from 'vitest';
import { ConfigSchema, DEFAULT_PRICES, configJsonSchema } from './config.schema.js';

/** The sample config of the seed (DESIGN.md, "Config"), keys exactly as users have them. */
const SEED_SAMPLE = {
  models: { manager: { model: 'claude-opus-5-5' }, worker: { model: 'claude-sonnet-5-5' } },
  execution: { max_workers: 3, worker_timeout: 1800, manager_timeout: 300, max_retries: 3 },
  monitoring: { progress_interval: 10, verbose_logging: false, show_progress_bar: true },
};

interface JsonSchemaNode {
  type?: string;
  enum?: unknown[];
  format?: string;
  properties?: Record<string, JsonSchemaNode>;
  additionalProperties?: boolean | JsonSchemaNode;
}

function at(schema: JsonSchemaNode, path: string): JsonSchemaNode {
  let node = schema;
  for (const key of path.split('.')) {
    const next = node.properties?.[key];
    if (!next) throw new Error(`JSON Schema has no property ${path} (stopped at ${key})`);
    node = next;
  }
  return node;
}

describe('ConfigSchema', () => {
  it('accepts the seed sample config', () => {
    const parsed = ConfigSchema.parse(SEED_SAMPLE);
    expect(parsed.execution.max_workers).toBe(3);
    expect(parsed.monitoring.show_progress_bar).toBe(true);
  });

  it('fills every default from an empty object', () => {
    const parsed = ConfigSchema.parse({});
    expect(parsed.models.manager).toEqual({ model: 'claude-opus-5-5', max_tokens: 8192 });
    expect(parsed.models.worker).toEqual({ model: 'claude-sonnet-5-5', max_tokens: 8192 });
    expect(parsed.models.provider).toBeUndefined();
    expect(parsed.models.prices).toEqual(DEFAULT_PRICES);
    expect(parsed.execution.max_workers).toBe(3);
    expect(parsed.checkpoints.every_n_tasks).toBe(10);
    expect(parsed.integration).toEqual({ verify_timeout: 600, verify_batch: 4 });
  });

  it('runs attempts in the daemon unless the Redis backend is chosen', () => {
    const parsed = ConfigSchema.parse({});
    expect(parsed.execution.backend).toBe('local');
    expect(parsed.redis).toEqual({
      url: 'redis://127.0.0.1:6379',
      password_env: 'ORC_REDIS_PASSWORD',
      tls: false,
      stall_seconds: 30,
    });
    const remote = ConfigSchema.parse({ execution: { backend: 'redis' }, redis: { url: 'rediss://q:6380' } });
    expect(remote.execution.backend).toBe('redis');
    expect(remote.redis.url).toBe('rediss://q:6380');
  });

  it('prices every default model', () => {
    const parsed = ConfigSchema.parse({});
    expect(parsed.models.prices[parsed.models.manager.model]).toBeDefined();
    expect(parsed.models.prices[parsed.models.worker.model]).toBeDefined();
  });

  it.each([
    ['an unknown key', { execution: { max_workrs: 3 } }],
    ['a string for a number', { execution: { max_workers: '3' } }],
    ['a fractional worker count', { execution: { max_workers: 1.5 } }],
    ['an unknown provider', { models: { provider: 'openai' } }],
    ['a base URL that is not a URL', { models: { base_url: 'localhost' } }],
    ['a negative cost cap', { execution: { max_cost_usd: -1 } }],
    ['a price without output', { models: { prices: { m: { input: 1 } } } }],
    ['a string boolean', { monitoring: { verbose_logging: 'yes' } }],
    ['an empty verify command', { integration: { verify: '  ' } }],
    ['a zero verify timeout', { integration: { verify_timeout: 0 } }],
    ['an unknown backend', { execution: { backend: 'kafka' } }],
    ['a Redis URL of another scheme', { redis: { url: 'http://cache:6379' } }],
    ['a misspelt Redis key', { redis: { pasword: 'x' } }],
    ['a queue name with a colon', { redis: { queue: 'orc:1' } }],
  ])('rejects %s', (_what, value) => {
    expect(ConfigSchema.safeParse(value).success).toBe(false);
  });
});

describe('configJsonSchema', () => {
  const schema = configJsonSchema() as JsonSchemaNode;

  it('describes the seed keys with their types', () => {
    expect(schema.type).toBe('object');
    expect(at(schema, 'models.manager.model').type).toBe('string');
    expect(at(schema, 'models.worker.model').type).toBe('string');
    expect(at(schema, 'execution.max_workers').type).toBe('integer');
    expect(at(schema, 'execution.worker_timeout').type).toBe('number');
    expect(at(schema, 'execution.manager_timeout').type).toBe('number');
    expect(at(schema, 'execution.max_retries').type).toBe('integer');
    expect(at(schema, 'monitoring.progress_interval').type).toBe('number');
    expect(at(schema, 'monitoring.verbose_logging').type).toBe('boolean');
    expect(at(schema, 'monitoring.show_progress_bar').type).toBe('boolean');
  });

  it('describes provider, base_url, max_cost_usd and the price table', () => {
    expect(at(schema, 'models.provider').enum).toEqual(['anthropic', 'claude-code', 'simulated']);
    expect(at(schema, 'models.base_url')).toMatchObject({ type: 'string', format: 'uri' });
    expect(at(schema, 'execution.max_cost_usd').type).toBe('number');
    const prices = at(schema, 'models.prices');
    expect(prices.type).toBe('object');
    expect(prices.additionalProperties).toMatchObject({ type: 'object' });
  });

  it('rejects unknown keys, like the loader', () => {
    expect(schema.additionalProperties).toBe(false);
    expect(at(schema, 'execution').additionalProperties).toBe(false);
    expect(at(schema, 'models.manager').additionalProperties).toBe(false);
  });

  it('accepts the seed sample: every key of it is a property of the schema with a matching type', () => {
    const walk = (value: unknown, node: JsonSchemaNode, path: string): void => {
      if (typeof value === 'object' && value !== null) {
        expect(node.type, path).toBe('object');
        for (const [key, child] of Object.entries(value)) {
          const next = node.properties?.[key];
          expect(next, `${path}.${key}`).toBeDefined();
          walk(child, next!, `${path}.${key}`);
        }
      } else if (typeof value === 'number') {
        expect(['number', 'integer'], path).toContain(node.type);
      } else {
        expect(node.type, path).toBe(typeof value);
      }
    };
    walk(SEED_SAMPLE, schema, '$');
  });
});
