import type { OrcEvent } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { createScriptedProvider, eventually, readJournal, tempHome, testConfig } from '@orc/test-support';
import { createOrchestrator } from '../orchestrator/create-orchestrator.js';
import type { Orchestrator } from '../orchestrator/orchestrator.js';

const CONFIG = { models: { provider: 'simulated' as const }, execution: { max_workers: 2 } };
const TASKS = [
  { id: 'a', title: 'A', description: 'its review is cut off' },
  { id: 'b', title: 'B', description: 'its work is cut off' },
];

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

describe('run.restored', () => {
  it('tells a task cut off in review (its answer kept, only reviewed again) apart from one run again', async () => {
    const { home, remove } = await tempHome('orc-restore-');
    cleanups.push(remove);
    // a answers at once and its review hangs; b's work hangs: both are in flight when the daemon stops.
    const hanging = createScriptedProvider({
      latencyMs: (call) =>
        (call.purpose === 'review' && call.taskId === 'a') || (call.purpose === 'work' && call.taskId === 'b')
          ? 600_000
          : 0,
    });
    const open = (provider: ReturnType<typeof createScriptedProvider>) =>
      createOrchestrator({
        home,
        loaded: testConfig(home, CONFIG),
        providers: () => provider,
        retryBaseMs: 1,
      });
    let before: Orchestrator | undefined = await open(hanging);
    cleanups.push(async () => before?.close(0));
    const { id: runId } = await before.startRun({ tasks: TASKS });
    await eventually(
      async () => (await before!.getRun(runId)).tasks.find((t) => t.id === 'a')?.status === 'reviewing',
      'a in review',
      5000,
    );
    await before.close(0);
    before = undefined;

    const after = await open(createScriptedProvider());
    cleanups.push(() => after.close(0));
    let restored: OrcEvent | undefined;
    await eventually(async () => {
      restored = (await readJournal(home, runId)).find((e) => e.type === 'run.restored');
      return restored !== undefined;
    }, 'run.restored');
    expect(restored).toMatchObject({ interruptedTasks: ['a', 'b'], reviewAgain: ['a'] });
  });
});
