import { createOrchestrator, defaultProviders } from '@orc/daemon';
import {
  countingProvider,
  randomDag,
  readJournal,
  tempHome,
  testConfig,
  type CountingProvider,
} from '@orc/test-support';
import { afterEach, expect, it } from 'vitest';

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

it('runs a seeded 1,000-task random graph in dependency order within the worker cap', async () => {
  const { home, remove } = await tempHome('orc-dag-');
  const MAX_WORKERS = 8;
  const tasks = randomDag(20_240_601, 1000, { maxDeps: 3, window: 40 });
  let counter: CountingProvider | undefined;
  const orchestrator = await createOrchestrator({
    home,
    loaded: testConfig(home, {
      models: { provider: 'simulated' },
      simulated: { latency_ms: { min: 0, max: 2 } },
      execution: { max_workers: MAX_WORKERS },
    }),
    retryBaseMs: 1,
    // One counter over both roles: a worker's work call and its review share its place in the cap.
    providers: (name, config, context) =>
      (counter ??= countingProvider(defaultProviders(name, config, context))),
  });
  cleanup = async () => {
    await orchestrator.close(0);
    await remove();
  };

  const run = await orchestrator.startRun({ tasks, source: 'random-dag.json' });
  const summary = await orchestrator.waitForRun(run.id);
  expect(summary.status).toBe('completed');
  expect(summary.taskCounts).toEqual({ done: 1000 });
  const view = await orchestrator.getRun(run.id, { full: true });
  expect(view.tasks).toHaveLength(1000);
  expect(view.tasks.every((t) => t.status === 'done')).toBe(true);
  expect(counter!.maxInFlight).toBeLessThanOrEqual(MAX_WORKERS);
  expect(counter!.maxInFlight).toBeGreaterThan(1);
  expect(counter!.total).toBe(2000 + 1); // work and review per task, and the final review

  const events = await readJournal(home, run.id);
  const completedAt = new Map<string, number>();
  const assignedAt = new Map<string, number>();
  const running = new Set<string>();
  let mostRunning = 0;
  let lastId = 0;
  for (const event of events) {
    expect(event.id).toBeGreaterThan(lastId);
    lastId = event.id;
    if (event.type === 'task.assigned') {
      expect(assignedAt.has(event.taskId), `${event.taskId} assigned twice`).toBe(false);
      assignedAt.set(event.taskId, event.id);
      running.add(event.taskId);
      mostRunning = Math.max(mostRunning, running.size);
    } else if (event.type === 'task.completed') {
      completedAt.set(event.taskId, event.id);
      running.delete(event.taskId);
    }
  }
  expect(mostRunning).toBeLessThanOrEqual(MAX_WORKERS);
  expect(assignedAt.size).toBe(1000);
  expect(completedAt.size).toBe(1000);
  for (const task of tasks) {
    for (const dep of task.dependencies ?? []) {
      const depDone = completedAt.get(dep)!;
      expect(depDone, `${task.id} was assigned before its dependency ${dep} completed`).toBeLessThan(
        assignedAt.get(task.id)!,
      );
    }
  }
});
