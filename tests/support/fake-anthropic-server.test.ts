import Anthropic from '@anthropic-ai/sdk';
import { assertValidTaskGraph, Plan } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeAnthropicServer } from './fake-anthropic-server.js';
import type { FakeAnthropicServer, FakeAnthropicServerOptions } from './fake-anthropic-server.js';

const KEY = 'test-key-not-a-real-one';
const servers: FakeAnthropicServer[] = [];

async function start(options: FakeAnthropicServerOptions = {}): Promise<FakeAnthropicServer> {
  const server = await startFakeAnthropicServer(options);
  servers.push(server);
  return server;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const valid = {
  model: 'claude-sonnet-5-5',
  max_tokens: 500,
  messages: [{ role: 'user', content: 'Task: tidy the changelog' }],
};

async function post(
  server: FakeAnthropicServer,
  body: unknown,
  headers: Record<string, string> = { 'x-api-key': KEY },
): Promise<{ status: number; body: { type?: string; error?: { type: string; message: string } } }> {
  const response = await fetch(`${server.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as never };
}

describe('fake Anthropic server', () => {
  it('answers a non-streaming request as JSON the real SDK reads', async () => {
    const server = await start();
    const client = new Anthropic({ apiKey: KEY, baseURL: server.url, maxRetries: 0, logLevel: 'off' });
    const message = await client.messages.create({
      model: 'claude-sonnet-5-5',
      max_tokens: 500,
      messages: [{ role: 'user', content: 'Task: tidy the changelog' }],
    });

    expect(message.type).toBe('message');
    expect(message.stop_reason).toBe('end_turn');
    expect(message.content[0]?.type === 'text' && message.content[0].text).toContain('tidy the changelog');
    expect(message.usage.output_tokens).toBeGreaterThan(0);
    expect(server.statusCounts[200]).toBe(1);
  });

  it('refuses what current models refuse, with 400 invalid_request_error', async () => {
    const server = await start();
    const refused = [
      { ...valid, tool_choice: { type: 'tool', name: 'plan' } },
      { ...valid, tool_choice: { type: 'any' } },
      { ...valid, temperature: 0 },
      { ...valid, top_p: 0.9 },
      { ...valid, top_k: 5 },
      { ...valid, messages: [...valid.messages, { role: 'assistant', content: '{' }] },
    ];
    for (const body of refused) {
      const answer = await post(server, body);
      expect(answer.status).toBe(400);
      expect(answer.body.error?.type).toBe('invalid_request_error');
    }
    expect((await post(server, { ...valid, tool_choice: { type: 'auto' } })).status).toBe(200);
    expect(server.statusCounts).toEqual({ 200: 1, 400: 6 });
  });

  it('refuses a missing or wrong key with 401, and takes the key as x-api-key or a bearer token', async () => {
    const server = await start({ apiKey: KEY });

    expect((await post(server, valid, {})).status).toBe(401);
    expect((await post(server, valid, { 'x-api-key': 'other-key-value' })).body.error?.type).toBe(
      'authentication_error',
    );
    expect((await post(server, valid, { authorization: `Bearer ${KEY}` })).status).toBe(200);
    expect((await post(server, valid, { 'x-api-key': KEY })).status).toBe(200);
    expect(server.requests).toHaveLength(2);
  });

  it('plays queued faults in order, then answers normally', async () => {
    const server = await start();
    server.failNext(
      { status: 429, retryAfterSec: 3 },
      { status: 529 },
      { status: 400, message: 'bad thing' },
    );

    const limited = await fetch(`${server.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify(valid),
    });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('3');
    expect(await limited.json()).toMatchObject({
      type: 'error',
      error: { type: 'rate_limit_error' },
    });
    expect((await post(server, valid)).body.error?.type).toBe('overloaded_error');
    expect((await post(server, valid)).body.error?.message).toBe('bad thing');
    expect((await post(server, valid)).status).toBe(200);
  });

  it('counts concurrent requests and holds each answer for its latency', async () => {
    const server = await start({ latencyMs: [80, 120] });
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 5 }, () => post(server, valid)));

    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(75);
    expect(server.maxInFlight).toBe(5);
    expect(server.inFlight).toBe(0);
  });

  it('plans a goal as 3-4 tasks with dependencies that form no cycle, named after the prompt', async () => {
    const server = await start();
    const client = new Anthropic({ apiKey: KEY, baseURL: server.url, maxRetries: 0, logLevel: 'off' });
    const schema = { type: 'object', properties: { summary: { type: 'string' }, tasks: { type: 'array' } } };
    const sizes = new Set<number>();
    for (const goal of [
      'a static blog',
      'a CLI for invoices',
      'a weather widget',
      'the release notes',
      'a REST API',
    ]) {
      const message = await client.messages
        .stream({
          model: 'claude-opus-5-5',
          max_tokens: 4000,
          messages: [{ role: 'user', content: `Goal: build ${goal}` }],
          output_config: { format: { type: 'json_schema', schema } },
        })
        .finalMessage();
      const text = message.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
      const plan = Plan.parse(JSON.parse(text));
      expect(plan.tasks.length).toBeGreaterThanOrEqual(3);
      expect(plan.tasks.length).toBeLessThanOrEqual(4);
      expect(plan.tasks.some((t) => t.dependencies.length > 0)).toBe(true);
      expect(plan.tasks[0]?.title).toContain(goal);
      assertValidTaskGraph(plan.tasks, 'the fake plan', 'PLAN_INVALID');
      sizes.add(plan.tasks.length);
    }
    expect([...sizes].sort()).toEqual([3, 4]);
  });

  it('limits requests as a token bucket and says when the next one fits', async () => {
    const server = await start({ rateLimits: { requestsPerMinute: 3 } });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await post(server, valid)).status);

    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await fetch(`${server.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify(valid),
    });
    expect(limited.status).toBe(429);
    // One request refills in 20 s: the bucket holds 3 a minute.
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(19);
    expect(retryAfter).toBeLessThanOrEqual(20);
    expect(limited.headers.get('anthropic-ratelimit-requests-limit')).toBe('3');
    expect(limited.headers.get('anthropic-ratelimit-requests-remaining')).toBe('0');
    const reset = Date.parse(limited.headers.get('anthropic-ratelimit-requests-reset') ?? '');
    expect(reset - Date.now()).toBeGreaterThan(55_000);
    await limited.arrayBuffer();
  });

  it('answers 404 for anything but POST /v1/messages', async () => {
    const server = await start();
    const response = await fetch(`${server.url}/v1/models`, { headers: { 'x-api-key': KEY } });

    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: { type: string } }).error.type).toBe('not_found_error');
  });

  it('limits input and output tokens per model; output is charged as an answer ends and may leave a debt', async () => {
    const server = await start({ rateLimits: { inputTokensPerMinute: 100, outputTokensPerMinute: 50 } });
    // 60 input tokens a request (240 characters): the second would pass 100.
    const body = { ...valid, messages: [{ role: 'user', content: 'Task: ' + 'x'.repeat(234) }] };
    expect((await post(server, body)).status).toBe(200);
    expect((await post(server, body)).status).toBe(429);
    // Another model has buckets of its own; its answer (about 90 tokens) leaves its output 40 in debt.
    const other = { ...body, model: 'claude-opus-5-5' };
    expect((await post(server, other)).status).toBe(200);
    const refused = await post(server, { ...other, messages: [{ role: 'user', content: 'Task: a' }] });
    expect(refused.status).toBe(429);
    expect(server.log.map((r) => [r.model, r.status, r.inputTokens])).toEqual([
      ['claude-sonnet-5-5', 200, 60],
      ['claude-sonnet-5-5', 429, 60],
      ['claude-opus-5-5', 200, 60],
      ['claude-opus-5-5', 429, 2],
    ]);
    expect(server.log[2]!.outputTokens).toBeGreaterThan(50);
  });

  it('caches a marked prefix of at least the minimum length once the answer that wrote it has begun', async () => {
    const server = await start({ latencyMs: 100 });
    const client = new Anthropic({ apiKey: KEY, baseURL: server.url, maxRetries: 0, logLevel: 'off' });
    const ask = (text: string, model = 'claude-sonnet-5-5') =>
      client.messages
        .stream({
          model,
          max_tokens: 500,
          system: [{ type: 'text', text, cache_control: { type: 'ephemeral' } }],
          messages: [{ role: 'user', content: 'Task: a part' }],
        })
        .finalMessage();
    const long = 'The plan of the run, task by task. '.repeat(150); // about 1,300 tokens
    // Two at once: the second arrives before the first answer began, so both write.
    const [first, second] = await Promise.all([ask(long), ask(long)]);
    expect(first.usage.cache_creation_input_tokens).toBeGreaterThan(1024);
    expect(second.usage.cache_creation_input_tokens).toBe(first.usage.cache_creation_input_tokens);
    const third = await ask(long);
    expect(third.usage.cache_read_input_tokens).toBe(first.usage.cache_creation_input_tokens);
    expect(third.usage.cache_creation_input_tokens).toBe(0);
    // Each model caches its own; a prefix under the minimum is never cached, only charged as input.
    expect((await ask(long, 'claude-opus-5-5')).usage.cache_read_input_tokens).toBe(0);
    const short = await ask('A short system prompt.');
    const again = await ask('A short system prompt.');
    expect([short.usage.cache_creation_input_tokens, again.usage.cache_read_input_tokens]).toEqual([0, 0]);
    expect(again.usage.input_tokens).toBe(short.usage.input_tokens);
  });
});
