import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { ModelError } from '@orc/daemon';
import {
  createScriptedProvider,
  eventually,
  openTestEngine,
  readJournal,
  removeTempProjects,
  tempHome,
  tempProject,
  type TestEngine,
} from '@orc/test-support';
import { afterEach, describe, expect, it } from 'vitest';

/** The engine and a real tasks.json a person edits between the run's steps (as set-status would). */

let engine: TestEngine | undefined;
const homes: (() => Promise<void>)[] = [];

afterEach(async () => {
  await engine?.close();
  engine = undefined;
  await Promise.all(homes.splice(0).map((remove) => remove()));
  await removeTempProjects();
});

const task = (id: number, status: string, dependencies: number[] = []) => ({
  id,
  title: `Task ${id}`,
  description: `Task ${id}`,
  status,
  dependencies,
  priority: 'medium',
  subtasks: [],
});

async function setStatus(file: string, id: number, status: string): Promise<void> {
  const data = JSON.parse(await readFile(file, 'utf8')) as {
    master: { tasks: { id: number; status: string }[] };
  };
  data.master.tasks.find((t) => t.id === id)!.status = status;
  await writeFile(file, JSON.stringify(data, null, 2));
}

async function statusOf(file: string, id: number): Promise<string> {
  const data = JSON.parse(await readFile(file, 'utf8')) as {
    master: { tasks: { id: number; status: string }[] };
  };
  return data.master.tasks.find((t) => t.id === id)!.status;
}

describe('a run whose Task Master file people edit', () => {
  it('pauses when the file cannot be read, and goes on once it is fixed and resumed', async () => {
    const { dir, file } = await tempProject({
      json: { master: { tasks: [task(1, 'pending'), task(2, 'pending', [1])], metadata: {} } },
    });
    const provider = createScriptedProvider();
    engine = await openTestEngine({ provider, config: { execution: { max_workers: 1 } } });
    provider.hold();
    const run = await engine.orchestrator.startRun({ taskmaster: { path: dir } });
    await provider.whenInFlight(1);
    const good = await readFile(file, 'utf8');
    await writeFile(file, good.slice(0, 40)); // a person's editor saved half of it
    provider.release();

    const paused = await engine.orchestrator.waitForRun(run.id);
    expect(paused).toMatchObject({ status: 'paused', pauseReason: 'source' });
    const events = await readJournal(engine.home, run.id);
    const pause = events.find((e) => e.type === 'run.paused');
    expect(pause).toMatchObject({
      reason: 'source',
      message: expect.stringMatching(
        /^Task Master file .*tasks\.json is not valid JSON .*; fix it, then resume the run$/,
      ) as unknown,
    });
    expect((await engine.orchestrator.getRun(run.id)).tasks.find((t) => t.id === '2')!.status).toBe('ready');

    // The file is fixed as it was, with task 1 still in progress (its done could not be written).
    await writeFile(file, good);
    await engine.orchestrator.resumeRun(run.id);
    expect((await engine.orchestrator.waitForRun(run.id)).status).toBe('completed');
    await engine.close();
    engine = undefined;
    // Task 1's done, lost to the broken file, was written with the next write.
    expect([await statusOf(file, 1), await statusOf(file, 2)]).toEqual(['done', 'done']);
  });

  it('after a restart, a task held for a change at the source starts on retry only once it is pending there', async () => {
    const { dir, file } = await tempProject({
      json: {
        master: {
          tasks: [task(1, 'pending'), task(2, 'pending', [1]), task(3, 'pending', [2])],
          metadata: {},
        },
      },
    });
    const { home, remove } = await tempHome();
    homes.push(remove);
    const provider = createScriptedProvider();
    engine = await openTestEngine({ provider, home, config: { execution: { max_workers: 1 } } });
    provider.hold();
    const run = await engine.orchestrator.startRun({ taskmaster: { path: dir } });
    await provider.whenInFlight(1);
    await setStatus(file, 2, 'deferred');
    provider.release();
    expect((await engine.orchestrator.waitForRun(run.id)).status).toBe('completed');
    expect((await engine.orchestrator.getRun(run.id)).tasks.map((t) => [t.id, t.status, t.held])).toEqual([
      ['1', 'done', undefined],
      ['2', 'blocked', 'set to deferred in Task Master (was pending): not started'],
      ['3', 'blocked', 'waits for 2, which is deferred in Task Master'],
    ]);
    await engine.orchestrator.close();

    // The daemon restarts; the person's task stays theirs until they put it back to pending.
    engine = await openTestEngine({ provider, home, config: { execution: { max_workers: 1 } } });
    await engine.orchestrator.retryTask(run.id, '2');
    await eventually(
      async () =>
        (await engine!.orchestrator.getRun(run.id)).tasks.find((t) => t.id === '2')!.status === 'blocked',
      'task 2 held again',
    );
    expect(provider.callsFor('work', '2')).toEqual([]);
    expect(await statusOf(file, 2)).toBe('deferred');

    await setStatus(file, 2, 'pending');
    await engine.orchestrator.retryTask(run.id, '2');
    await engine.orchestrator.retryTask(run.id, '3');
    expect((await engine.orchestrator.waitForRun(run.id)).status).toBe('completed');
    await engine.orchestrator.close();
    expect([await statusOf(file, 2), await statusOf(file, 3)]).toEqual(['done', 'done']);
  });
  it('a retry while the run lands its last write-back waits for it, then is taken by the final review', async () => {
    const { dir, file } = await tempProject({
      json: { master: { tasks: [task(1, 'pending')], metadata: {} } },
    });
    const provider = createScriptedProvider({
      work: (call) => {
        if (call.n === 1) throw new ModelError('permanent', 'not yet');
        return 'fine';
      },
    });
    engine = await openTestEngine({ provider, config: { execution: { max_workers: 1 } } });
    provider.hold();
    const run = await engine.orchestrator.startRun({ taskmaster: { path: dir } });
    await provider.whenInFlight(1);
    // task-master holds its lock on the file (as set-status does while it writes): the failed task's
    // write-back waits for it, and so does the run's settling before its final review.
    await mkdir(`${file}.lock`);
    provider.release();
    await eventually(
      async () => (await engine!.orchestrator.getRun(run.id)).status === 'reviewing',
      'the run to settle',
    );
    let retried = false;
    const retry = engine.orchestrator.retryTask(run.id, '1').then((summary) => {
      retried = true;
      return summary;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(retried).toBe(false);
    expect(provider.callsFor('final-review')).toEqual([]);

    await rmdir(`${file}.lock`);
    expect((await retry).status).toBe('executing');
    expect((await engine.orchestrator.waitForRun(run.id)).status).toBe('completed');
    expect(provider.callsFor('work', '1')).toHaveLength(2);
    await engine.close();
    engine = undefined;
    expect(await statusOf(file, 1)).toBe('done');
  });

  it('restored, it takes in what a person added meanwhile, but not the tasks --only left out', async () => {
    const { dir, file } = await tempProject({
      json: { master: { tasks: [task(1, 'pending'), task(2, 'pending'), task(3, 'pending')], metadata: {} } },
    });
    const { home, remove } = await tempHome();
    homes.push(remove);
    const provider = createScriptedProvider();
    provider.hold();
    engine = await openTestEngine({ provider, home, config: { execution: { max_workers: 1 } } });
    const run = await engine.orchestrator.startRun({ taskmaster: { path: dir, only: ['1', '2'] } });
    await provider.whenInFlight(1);
    await engine.orchestrator.close(0);
    // While the daemon is down a person adds task 4 (after 2), as Task Master would write it.
    const data = JSON.parse(await readFile(file, 'utf8')) as { master: { tasks: unknown[] } };
    data.master.tasks.push(task(4, 'pending', [2]));
    await writeFile(file, JSON.stringify(data, null, 2));

    engine = await openTestEngine({ provider, home, config: { execution: { max_workers: 1 } } });
    provider.release();
    await eventually(
      async () => (await engine!.orchestrator.getRun(run.id)).tasks.some((t) => t.id === '4'),
      'the restored run to take in task 4',
    );
    expect((await engine.orchestrator.waitForRun(run.id)).status).toBe('completed');
    expect((await engine.orchestrator.getRun(run.id)).tasks.map((t) => [t.id, t.status])).toEqual([
      ['1', 'done'],
      ['2', 'done'],
      ['4', 'done'],
    ]);
    expect(provider.callsFor('work', '3')).toEqual([]);
  });
});
