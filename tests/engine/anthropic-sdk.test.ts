import { createOrchestrator, type Orchestrator } from '@orc/daemon';
import {
  readJournal,
  readTree,
  startFakeAnthropicServer,
  tempHome,
  testConfig,
  type FakeAnthropicServer,
  type FakeAnthropicServerOptions,
} from '@orc/test-support';
import type { ConfigInput, OrcEvent, TaskSpecInput } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';

/** A made-up key the fake server insists on; it must never reach an event or a file. */
const KEY = 'sk-ant-test-0123456789abcdef';

let server: FakeAnthropicServer | undefined;
let orchestrator: Orchestrator | undefined;
let home: { home: string; remove: () => Promise<void> } | undefined;

afterEach(async () => {
  await orchestrator?.close(0);
  await server?.close();
  await home?.remove();
  orchestrator = server = home = undefined;
});

/** The engine with its default providers, on the real SDK, against the fake server. */
async function open(serverOptions: FakeAnthropicServerOptions = {}, config: ConfigInput = {}) {
  server = await startFakeAnthropicServer({ apiKey: KEY, ...serverOptions });
  home = await tempHome('orc-sdk-');
  orchestrator = await createOrchestrator({
    home: home.home,
    loaded: testConfig(home.home, {}, { ANTHROPIC_API_KEY: KEY }),
    config: { models: { provider: 'anthropic', base_url: server.url }, ...config },
    retryBaseMs: 1,
  });
  return { server, orchestrator, home: home.home };
}

const ofType = <T extends OrcEvent['type']>(events: OrcEvent[], type: T) =>
  events.filter((e): e is Extract<OrcEvent, { type: T }> => e.type === type);

async function expectNoKeyIn(dir: string): Promise<void> {
  const files = await readTree(dir);
  expect(files.size).toBeGreaterThan(0);
  for (const [path, text] of files) expect(text.includes(KEY), `${path} holds the API key`).toBe(false);
  for (const [path, text] of files)
    expect(text.includes('0123456789abcdef'), `${path} holds part of the key`).toBe(false);
}

const tasks = (n: number, chain = false): TaskSpecInput[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `t${i + 1}`,
    title: `Write section ${i + 1} of the notes`,
    dependencies: chain && i > 0 ? [`t${i}`] : [],
  }));

describe('the engine on the real Anthropic SDK (fake server)', () => {
  it('runs a goal to completion: plan, work, reviews and the final review over the wire', async () => {
    const { server, orchestrator, home } = await open();
    const run = await orchestrator.startRun({ goal: 'Write release notes and a migration guide' });
    expect(run.models).toMatchObject({ simulated: false, manager: { provider: 'anthropic' } });
    const summary = await orchestrator.waitForRun(run.id);
    expect(summary.status).toBe('completed');
    const view = await orchestrator.getRun(run.id, { full: true });
    expect(view.tasks.length).toBeGreaterThan(0);
    expect(view.tasks.every((t) => t.status === 'done' && (t.result ?? '').length > 0)).toBe(true);
    // One plan, one work call and one review per task, one final review.
    expect(server.requests).toHaveLength(2 + 2 * view.tasks.length);
    expect(server.requests.every((r) => r.stream === true)).toBe(true);
    expect(view.finalReview?.verdict).toBeDefined();
    expect(summary.usage.inputTokens).toBeGreaterThan(0);
    expect(summary.costUsd).toBeGreaterThan(0);
    await orchestrator.close(0);
    await expectNoKeyIn(home);
  });

  it('retries 429 (honouring retry-after), 529, 500 and a mid-stream error, counts them, and completes', async () => {
    const { server, orchestrator, home } = await open({}, { execution: { max_workers: 2, max_retries: 5 } });
    // A chain, so the faults hit t1's work calls in order.
    server.failNext(
      { status: 429, retryAfterSec: 1 },
      { status: 529 },
      { status: 500 },
      { midStreamError: 'overloaded_error' },
    );
    const run = await orchestrator.startRun({ tasks: tasks(2, true) });
    expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
    expect(server.statusCounts[429]).toBe(1);
    expect(server.statusCounts[529]).toBe(1);
    expect(server.statusCounts[500]).toBe(1);
    expect(server.midStreamErrors).toBe(1);

    const events = await readJournal(home, run.id);
    const failed = ofType(events, 'task.attempt_failed');
    expect(failed.map((e) => [e.taskId, e.attempt, e.error.category])).toEqual([
      ['t1', 1, 'transient'],
      ['t1', 2, 'transient'],
      ['t1', 3, 'transient'],
      ['t1', 4, 'transient'],
    ]);
    expect(failed[0]!.error.message).toMatch(/429/);
    expect(failed[0]!.retryInMs).toBeGreaterThanOrEqual(1000);
    expect(failed[1]!.error.message).toMatch(/529/);
    expect(failed[2]!.error.message).toMatch(/500/);
    expect(failed[3]!.error.message).toMatch(/midway/);
    // The rate limit halved the run's concurrency, and success brought it back.
    expect(ofType(events, 'run.concurrency').map((e) => e.limit)).toEqual([1, 2]);

    const t1 = (await orchestrator.getRun(run.id)).tasks.find((t) => t.id === 't1')!;
    expect(t1.attempts.map((a) => a.outcome)).toEqual(['failed', 'failed', 'failed', 'failed', 'succeeded']);
    expect(t1.status).toBe('done');
    await orchestrator.close(0);
    await expectNoKeyIn(home);
  });

  it('fails a task on a permanent error (400) with a clear reason and no retry', async () => {
    const { server, orchestrator, home } = await open();
    server.failNext({ status: 400, message: 'prompt is too long: 250000 tokens > 200000 maximum' });
    const run = await orchestrator.startRun({ tasks: tasks(1) });
    const summary = await orchestrator.waitForRun(run.id);
    expect(summary.status).toBe('failed');
    const t1 = (await orchestrator.getRun(run.id)).tasks[0]!;
    expect(t1.status).toBe('failed');
    expect(t1.error).toMatch(/^permanent error: .*400.*prompt is too long: 250000 tokens > 200000 maximum/);
    expect(t1.attempts).toHaveLength(1);
    expect(server.statusCounts[400]).toBe(1);
    const events = await readJournal(home, run.id);
    expect(ofType(events, 'task.failed')).toEqual([
      expect.objectContaining({ taskId: 't1', error: t1.error }),
    ]);
    await orchestrator.close(0);
    await expectNoKeyIn(home);
  });

  it('never has more calls in flight at the server than max_workers', async () => {
    const { server, orchestrator } = await open({ latencyMs: 40 }, { execution: { max_workers: 3 } });
    const run = await orchestrator.startRun({ tasks: tasks(12) });
    expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
    expect(server.requests).toHaveLength(12 + 12 + 1); // work and review per task, the final review
    expect(server.maxInFlight).toBeLessThanOrEqual(3);
    expect(server.maxInFlight).toBeGreaterThanOrEqual(2);
  });

  it('keeps the key out of errors when the server refuses it', async () => {
    server = await startFakeAnthropicServer({ apiKey: 'sk-ant-test-another-key-entirely' });
    home = await tempHome('orc-sdk-');
    orchestrator = await createOrchestrator({
      home: home.home,
      loaded: testConfig(home.home, {}, { ANTHROPIC_API_KEY: KEY }),
      config: { models: { provider: 'anthropic', base_url: server.url } },
      retryBaseMs: 1,
    });
    const run = await orchestrator.startRun({ tasks: tasks(1) });
    // A rejected key would fail every task alike: the run pauses for a person instead.
    const summary = await orchestrator.waitForRun(run.id);
    expect(summary).toMatchObject({ status: 'paused', pauseReason: 'provider' });
    const task = (await orchestrator.getRun(run.id, { full: true })).tasks[0]!;
    expect(task.status).toBe('ready');
    expect(task.attempts).toHaveLength(1);
    expect(task.attempts[0]!.error?.message).toMatch(/401.*ANTHROPIC_API_KEY/);
    await orchestrator.close(0);
    await expectNoKeyIn(home.home);
  });
});
