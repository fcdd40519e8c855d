import { FinalReview, Plan, TaskReview } from '@orc/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { startFakeAnthropicServer } from '@orc/test-support';
import type { FakeAnthropicServer, FakeAnthropicServerOptions } from '@orc/test-support';
import { createAnthropicProvider } from './anthropic-provider.js';
import { CallCancelledError, ModelError } from './model-error.js';
import type { ModelProvider, ModelRequest } from './provider.js';
import { parseRetryAfter } from './retry-after.js';
import type { RateLimitReport } from '../quota/rate-limit-report.js';

// A made-up key: tests never use a real one, but the provider must still keep this one out of messages.
const KEY = 'sk-ant-api03-FAKEfakeFAKEfake0123456789';

let server: FakeAnthropicServer;
let provider: ModelProvider;

async function start(options: FakeAnthropicServerOptions = {}, timeoutMs?: number): Promise<void> {
  await server?.close();
  server = await startFakeAnthropicServer({ apiKey: KEY, ...options });
  provider = createAnthropicProvider({
    apiKey: KEY,
    baseURL: server.url,
    ...(timeoutMs ? { timeoutMs } : {}),
  });
}

function request(overrides: Partial<ModelRequest> = {}): ModelRequest {
  return {
    purpose: 'work',
    model: 'claude-sonnet-5-5',
    system: 'You are a careful worker. Goal: ship the release notes.',
    prompt: 'Task: write the release notes for version 2.0',
    maxTokens: 1000,
    signal: new AbortController().signal,
    ...overrides,
  };
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

async function modelError(promise: Promise<unknown>): Promise<ModelError> {
  const error = await failure(promise);
  expect(error).toBeInstanceOf(ModelError);
  return error as ModelError;
}

beforeEach(async () => {
  await start();
});

afterEach(async () => {
  await server.close();
});

describe('anthropic provider against the fake Messages API', () => {
  it('streams text to onText in order and returns the whole answer with its usage', async () => {
    const pieces: string[] = [];
    const response = await provider.complete(request({ onText: (t) => pieces.push(t) }));

    expect(pieces.length).toBeGreaterThan(3);
    expect(pieces.join('')).toBe(response.text);
    expect(response.text).toContain('write the release notes for version 2.0');
    expect(response.stopReason).toBe('end_turn');
    expect(response.usage.inputTokens).toBeGreaterThan(0);
    expect(response.usage.outputTokens).toBeGreaterThan(0);
  });

  it('writes the prompt cache on the first call and reads it on the next one with the same system', async () => {
    // Long enough to be cached (1,024 tokens for Sonnet); a short system prompt is never cached.
    const system = `${request().system}\n${'- a task of the plan, with its description\n'.repeat(120)}`;
    const first = await provider.complete(request({ system }));
    const second = await provider.complete(request({ system, prompt: 'Task: another one' }));
    const short = await provider.complete(request());
    const shortAgain = await provider.complete(request());

    expect(first.usage.cacheWriteTokens).toBeGreaterThan(1024);
    expect(first.usage.cacheReadTokens).toBe(0);
    expect(second.usage.cacheReadTokens).toBe(first.usage.cacheWriteTokens);
    expect(second.usage.cacheWriteTokens).toBe(0);
    expect(shortAgain.usage).toEqual({ ...short.usage, outputTokens: shortAgain.usage.outputTokens });
    expect(shortAgain.usage.cacheReadTokens + shortAgain.usage.cacheWriteTokens).toBe(0);
  });

  it('reports the rate-limit headers of each answer as it begins', async () => {
    await start({
      rateLimits: { requestsPerMinute: 50, inputTokensPerMinute: 40_000, outputTokensPerMinute: 8_000 },
    });
    const reports: RateLimitReport[] = [];
    await provider.complete(request({ onRateLimits: (report) => reports.push(report) }));

    expect(reports).toHaveLength(1);
    const { buckets } = reports[0]!;
    expect(buckets.requests).toMatchObject({ limit: 50, remaining: 49 });
    expect(buckets['input-tokens']?.limit).toBe(40_000);
    expect(buckets['input-tokens']?.remaining).toBeLessThan(40_000);
    expect(buckets['output-tokens']).toMatchObject({ limit: 8_000, remaining: 8_000 });
    expect(buckets.tokens?.limit).toBeGreaterThan(0);
  });

  it('sends the system with a cache breakpoint, the schema as output_config.format, and no forbidden params', async () => {
    const response = await provider.complete(
      request({ purpose: 'plan', model: 'claude-opus-5-5', outputSchema: Plan, maxTokens: 4000 }),
    );

    const body = server.requests.at(-1)!;
    expect(body.stream).toBe(true);
    expect(body.model).toBe('claude-opus-5-5');
    expect(body.max_tokens).toBe(4000);
    expect(body.system).toEqual([
      { type: 'text', text: request().system, cache_control: { type: 'ephemeral' } },
    ]);
    expect(body.messages).toEqual([{ role: 'user', content: request().prompt }]);
    expect(body.output_config?.format?.type).toBe('json_schema');
    expect(Object.keys(body.output_config?.format?.schema?.properties ?? {})).toEqual(['summary', 'tasks']);
    for (const forbidden of ['tool_choice', 'tools', 'temperature', 'top_p', 'top_k']) {
      expect(body).not.toHaveProperty(forbidden);
    }
    expect(Plan.parse(JSON.parse(response.text)).tasks.length).toBeGreaterThanOrEqual(3);
  });

  it('answers reviews and final reviews in their schemas', async () => {
    const review = await provider.complete(request({ purpose: 'review', outputSchema: TaskReview }));
    const final = await provider.complete(request({ purpose: 'final-review', outputSchema: FinalReview }));

    expect(TaskReview.parse(JSON.parse(review.text)).verdict).toBe('accept');
    expect(FinalReview.parse(JSON.parse(final.text)).verdict).toBe('success');
  });

  it('returns structured output that does not parse as raw text, for the caller to validate', async () => {
    await start({ respond: () => '{"verdict": "accept", "feedb' });
    const response = await provider.complete(request({ outputSchema: TaskReview }));

    expect(response.text).toBe('{"verdict": "accept", "feedb');
  });

  it('leaves out an empty system prompt, which the API would refuse', async () => {
    await provider.complete(request({ system: '' }));

    expect(server.requests.at(-1)).not.toHaveProperty('system');
  });
});

describe('anthropic provider error classification', () => {
  it('429: transient, rate limited, with retry-after in ms', async () => {
    server.failNext({ status: 429, retryAfterSec: 7 });
    const error = await modelError(provider.complete(request()));

    expect(error.category).toBe('transient');
    expect(error.details).toEqual({ status: 429, rateLimited: true, retryAfterMs: 7000 });
  });

  it('a 429 from the limit carries retry-after and what the headers say of the quota', async () => {
    await start({ rateLimits: { requestsPerMinute: 2, minuteMs: 3000 } });
    await provider.complete(request());
    await provider.complete(request());
    const error = await modelError(provider.complete(request()));

    expect(error.details.rateLimited).toBe(true);
    // One request refills in 1.5 s; retry-after is whole seconds, as the API sends it.
    expect(error.details.retryAfterMs).toBe(2000);
    expect(error.details.rateLimits?.buckets.requests).toMatchObject({ limit: 2, remaining: 0 });
  });

  it('529: transient and rate limited', async () => {
    server.failNext({ status: 529 });
    const error = await modelError(provider.complete(request()));

    expect(error.category).toBe('transient');
    expect(error.details).toMatchObject({ status: 529, rateLimited: true });
    expect(error.message).toContain('overloaded');
  });

  it('500: transient, not rate limited', async () => {
    server.failNext({ status: 500 });
    const error = await modelError(provider.complete(request()));

    expect(error.category).toBe('transient');
    expect(error.details.status).toBe(500);
    expect(error.details.rateLimited).toBeUndefined();
  });

  it('400: permanent, with the server reason and never the key', async () => {
    server.failNext({ status: 400, message: `prompt is too long; key was ${KEY}` });
    const error = await modelError(provider.complete(request()));

    expect(error.category).toBe('permanent');
    expect(error.message).toContain('prompt is too long');
    expect(error.message).not.toContain(KEY);
  });

  it('401: permanent, says to check ANTHROPIC_API_KEY, and never shows the key', async () => {
    const wrongKey = 'sk-ant-api03-WRONGwrongWRONG0123456789';
    const wrong = createAnthropicProvider({ apiKey: wrongKey, baseURL: server.url });
    const error = await modelError(wrong.complete(request()));

    expect(error.category).toBe('permanent');
    expect(error.details.status).toBe(401);
    expect(error.message).toBe('the Anthropic API rejected the API key (401); check ANTHROPIC_API_KEY');
    expect(server.statusCounts[401]).toBe(1);

    server.failNext({ status: 403, message: `key ${KEY} may not use claude-opus-5-5` });
    const forbidden = await modelError(provider.complete(request()));
    expect(forbidden.category).toBe('permanent');
    expect(forbidden.message).toContain('may not use claude-opus-5-5');
    expect(forbidden.message).not.toContain(KEY);
  });

  it('an overloaded error in the middle of a stream: transient and rate limited, after partial text', async () => {
    server.failNext({ midStreamError: 'overloaded_error' });
    const pieces: string[] = [];
    const error = await modelError(provider.complete(request({ onText: (t) => pieces.push(t) })));

    expect(pieces.length).toBeGreaterThan(0);
    expect(error.category).toBe('transient');
    expect(error.details.rateLimited).toBe(true);
    expect(error.message).toContain('overloaded_error');
    expect(server.midStreamErrors).toBe(1);
  });

  it('another error in the middle of a stream: transient, not rate limited', async () => {
    server.failNext({ midStreamError: 'api_error', message: 'Internal server error' });
    const error = await modelError(provider.complete(request()));

    expect(error.category).toBe('transient');
    expect(error.details.rateLimited).toBe(false);
  });

  it('a dropped connection or a closed port: transient', async () => {
    server.failNext({ disconnect: true });
    expect((await modelError(provider.complete(request()))).category).toBe('transient');

    const url = server.url;
    await server.close();
    const unreachable = createAnthropicProvider({ apiKey: KEY, baseURL: url });
    const error = await modelError(unreachable.complete(request()));
    expect(error.category).toBe('transient');
    expect(error.message).toContain('could not reach the Anthropic API');
  });

  it('max_tokens stop: recoverable', async () => {
    const error = await modelError(provider.complete(request({ maxTokens: 5 })));

    expect(error.category).toBe('recoverable');
    expect(error.message).toBe('the answer hit max_tokens (5)');
  });

  it('a call slower than timeoutMs: recoverable', async () => {
    await start({ latencyMs: 2000 }, 150);
    const error = await modelError(provider.complete(request()));

    expect(error.category).toBe('recoverable');
    expect(error.message).toContain('timed out');
  });

  it('a stream that stalls past timeoutMs: recoverable', async () => {
    await start({ chunkDelayMs: 1000 }, 300);
    const error = await modelError(provider.complete(request()));

    expect(error.category).toBe('recoverable');
  });

  it('no API key: permanent, without calling the API', async () => {
    const keyless = createAnthropicProvider({ apiKey: undefined, baseURL: server.url });
    const error = await modelError(keyless.complete(request()));

    expect(error.category).toBe('permanent');
    expect(error.message).toContain('ANTHROPIC_API_KEY');
    expect(server.requests).toHaveLength(0);
  });
});

describe('anthropic provider cancellation', () => {
  it('aborting the signal mid-stream throws CallCancelledError and closes the request', async () => {
    await start({ chunkDelayMs: 30 });
    const controller = new AbortController();
    const pieces: string[] = [];
    const call = provider.complete(
      request({
        signal: controller.signal,
        onText: (t) => {
          pieces.push(t);
          controller.abort();
        },
      }),
    );

    expect(await failure(call)).toBeInstanceOf(CallCancelledError);
    expect(pieces).toHaveLength(1);
    await expect.poll(() => server.inFlight).toBe(0);
  });

  it('an already aborted signal never reaches the API', async () => {
    const controller = new AbortController();
    controller.abort();

    expect(await failure(provider.complete(request({ signal: controller.signal })))).toBeInstanceOf(
      CallCancelledError,
    );
    expect(server.requests).toHaveLength(0);
  });

  it('an onText that throws stops the stream and its error comes back unchanged', async () => {
    const bug = new Error('listener bug');
    const error = await failure(
      provider.complete(
        request({
          onText: () => {
            throw bug;
          },
        }),
      ),
    );

    expect(error).toBe(bug);
  });
});

describe('parseRetryAfter', () => {
  const headers = (h: Record<string, string>) => new Headers(h);

  it('reads seconds, an HTTP date and retry-after-ms, and ignores garbage', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter(headers({ 'retry-after': '12' }), now)).toBe(12_000);
    expect(parseRetryAfter(headers({ 'retry-after': '0.5' }), now)).toBe(500);
    expect(parseRetryAfter(headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT' }), now)).toBe(30_000);
    expect(parseRetryAfter(headers({ 'retry-after': 'Wed, 31 Dec 2025 23:00:00 GMT' }), now)).toBe(0);
    expect(parseRetryAfter(headers({ 'retry-after-ms': '250', 'retry-after': '9' }), now)).toBe(250);
    expect(parseRetryAfter(headers({ 'retry-after': 'soon' }), now)).toBeUndefined();
    expect(parseRetryAfter(headers({}), now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('output_config.format', () => {
  it('carries the JSON Schema of any zod schema', async () => {
    const Answer = z.strictObject({ answer: z.number().describe('The number.') });
    await start({ respond: () => '{"answer": 4}' });
    const response = await provider.complete(request({ outputSchema: Answer }));

    expect(Answer.parse(JSON.parse(response.text))).toEqual({ answer: 4 });
    expect(server.requests.at(-1)?.output_config?.format?.schema).toMatchObject({
      type: 'object',
      properties: { answer: { type: 'number', description: 'The number.' } },
      additionalProperties: false,
      required: ['answer'],
    });
  });
});
