import { createOrchestrator, type Orchestrator } from '@orc/daemon';
import {
  ManualClock,
  eventually,
  startFakeAnthropicServer,
  tempHome,
  testConfig,
  type FakeAnthropicServer,
  type FakeAnthropicServerOptions,
} from '@orc/test-support';
import { quotaWaitText, type ConfigInput, type TaskSpecInput } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';

const KEY = 'sk-ant-test-quota-0000000000000000';

let server: FakeAnthropicServer | undefined;
let orchestrator: Orchestrator | undefined;
let home: { home: string; remove: () => Promise<void> } | undefined;

afterEach(async () => {
  await orchestrator?.close(0);
  await server?.close();
  await home?.remove();
  orchestrator = server = home = undefined;
});

/** The engine on the real SDK against the stand-in, both on `clock` when one is given. */
async function open(
  serverOptions: FakeAnthropicServerOptions,
  config: ConfigInput = {},
  clock?: ManualClock,
): Promise<{ server: FakeAnthropicServer; orchestrator: Orchestrator }> {
  server = await startFakeAnthropicServer({
    apiKey: KEY,
    ...(clock && { now: () => clock.now() }),
    ...serverOptions,
  });
  home = await tempHome('orc-quota-');
  orchestrator = await createOrchestrator({
    home: home.home,
    loaded: testConfig(home.home, {}, { ANTHROPIC_API_KEY: KEY }),
    config: { ...config, models: { ...config.models, provider: 'anthropic', base_url: server.url } },
    retryBaseMs: 1,
    ...(clock && { clock }),
  });
  return { server, orchestrator };
}

const described = (n: number): TaskSpecInput[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `t${i + 1}`,
    title: `Write section ${i + 1} of the field guide`,
    description: `Section ${i + 1}: cover its subject, give two worked examples and end with a short checklist.`,
  }));

describe('the quota governor against the stand-in', () => {
  it('waits out a quota that refills in minutes as a pause with its time, without a 429, and goes on by itself', async () => {
    const clock = new ManualClock(Date.now());
    // Two requests every ten minutes: the third work call would wait five minutes. The manager is the
    // simulation here, so the workers' quota is the only one.
    const { server, orchestrator } = await open(
      { rateLimits: { requestsPerMinute: 2, minuteMs: 600_000 } },
      {
        models: { provider: 'anthropic', base_url: 'http://127.0.0.1:1', manager: { provider: 'simulated' } },
        simulated: { latency_ms: { min: 0, max: 0 } },
        execution: { max_workers: 1 },
      },
      clock,
    );
    const run = await orchestrator.startRun({ tasks: described(3), source: 'quota test' });
    await eventually(
      () => orchestrator.listRuns().find((r) => r.id === run.id)?.status === 'paused',
      'the run to pause for its quota',
    );
    const paused = orchestrator.listRuns().find((r) => r.id === run.id)!;
    expect(paused.pauseReason).toBe('quota');
    expect(paused.quotaModel).toBe('claude-sonnet-5-5');
    const until = Date.parse(paused.resumeAt!);
    // The bucket holds two a ten-minute "minute": one more refills in five.
    expect(until - clock.now()).toBeGreaterThan(4 * 60_000);
    expect(until - clock.now()).toBeLessThanOrEqual(5 * 60_000 + 1_000);
    expect(quotaWaitText(paused.resumeAt!, clock.now())).toMatch(/^waiting for quota until \d\d:\d\d/);
    // A task is shown done once its completion is on disk (#13 point 1): the journal may trail the pause.
    await eventually(
      async () => (await orchestrator.getRun(run.id)).tasks.every((t) => t.status !== 'reviewing'),
      'the completions on disk',
    );
    const view = await orchestrator.getRun(run.id);
    expect(view.tasks.map((t) => t.status)).toEqual(['done', 'done', 'running']);
    // The waiting call is not an attempt: nothing was sent for it.
    expect(view.tasks[2]!.attempts).toEqual([]);
    expect(server.statusCounts[429]).toBeUndefined();

    clock.advance(until - clock.now());
    const summary = await orchestrator.waitForRun(run.id);
    expect(summary.status).toBe('completed');
    const done = await orchestrator.getRun(run.id);
    expect(done.tasks.every((t) => t.status === 'done' && t.attempts.length === 1)).toBe(true);
    expect(server.statusCounts[429]).toBeUndefined();
    expect(summary.taskCounts['failed']).toBeUndefined();
  });

  it('a 429 with a long retry-after pauses the run until then; no task fails and no retry is spent', async () => {
    const clock = new ManualClock(Date.now());
    const { server, orchestrator } = await open(
      { rateLimits: { requestsPerMinute: 1000 } },
      { execution: { max_workers: 2, max_retries: 0 } },
      clock,
    );
    server.failNext({ status: 429, retryAfterSec: 600 });
    const run = await orchestrator.startRun({ tasks: described(2), source: 'quota test' });
    await eventually(
      () => orchestrator.listRuns().find((r) => r.id === run.id)?.status === 'paused',
      'the run to pause for its quota',
    );
    const paused = orchestrator.listRuns().find((r) => r.id === run.id)!;
    expect(paused.pauseReason).toBe('quota');
    expect(Date.parse(paused.resumeAt!) - clock.now()).toBeGreaterThan(590_000);

    clock.advance(601_000);
    const summary = await orchestrator.waitForRun(run.id);
    // max_retries 0, and yet the task whose call was refused is done: a quota wait is not a retry.
    expect(summary.status).toBe('completed');
    expect(server.statusCounts[429]).toBe(1);
  });

  it('a 50-task plan reads at least 70 % of its worker input after the first call from the cache', async () => {
    const { server, orchestrator } = await open({ latencyMs: [5, 20] }, { execution: { max_workers: 16 } });
    const run = await orchestrator.startRun({ tasks: described(50), source: 'cache test' });
    const summary = await orchestrator.waitForRun(run.id);
    expect(summary.status).toBe('completed');
    const work = server.log.filter((r) => r.model === 'claude-sonnet-5-5');
    const [first, ...rest] = work;
    expect(first!.cacheWriteTokens).toBeGreaterThan(1024);
    const read = rest.reduce((n, r) => n + r.cacheReadTokens, 0);
    const input = rest.reduce((n, r) => n + r.inputTokens + r.cacheReadTokens, 0);
    expect(read / input).toBeGreaterThanOrEqual(0.7);
    // The other fifteen workers waited for the first answer instead of writing the prefix again.
    expect(work.filter((r) => r.cacheWriteTokens > 0)).toHaveLength(1);
    // The run's cost prices those reads at a tenth of input.
    const view = await orchestrator.getRun(run.id, { full: true });
    expect(view.usage.cacheReadTokens).toBeGreaterThan(view.usage.inputTokens);
  });
});
