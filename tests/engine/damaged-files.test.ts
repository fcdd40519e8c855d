import { existsSync } from 'node:fs';
import { readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createOrchestrator, type Orchestrator } from '@orc/daemon';
import {
  createScriptedProvider,
  readTree,
  tempHome,
  testConfig,
  type ScriptedProvider,
} from '@orc/test-support';
import { runWorkMs, type OrcEvent, type RunSummary } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * Damaged files on disk, made by hand as a disk, a crash or a person would make them, and what the engine
 * makes of them on its next start: a run rebuilt from its checkpoints and journal, or shown as damaged,
 * kept as it is and not run. Never a run that vanishes.
 */

const TASKS = Array.from({ length: 6 }, (_, i) => ({
  id: `t${i + 1}`,
  title: `task ${i + 1}`,
  dependencies: i > 0 ? [`t${i}`] : [],
}));

let home: string;
let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

async function open(provider: ScriptedProvider = createScriptedProvider()): Promise<Orchestrator> {
  const orchestrator = await createOrchestrator({
    home,
    loaded: testConfig(home, { models: { provider: 'simulated' }, checkpoints: { every_n_tasks: 2 } }),
    providers: () => provider,
    retryBaseMs: 1,
  });
  cleanups.push(() => orchestrator.close(0));
  return orchestrator;
}

/** A run of TASKS to the end on a fresh home; the engine is closed after it. */
async function finishedRun(tasks: typeof TASKS = TASKS): Promise<string> {
  const temp = await tempHome('orc-damage-');
  home = temp.home;
  cleanups.push(temp.remove);
  const orchestrator = await open();
  const run = await orchestrator.startRun({ tasks });
  expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
  await orchestrator.close(0);
  return run.id;
}

const runDir = (runId: string) => join(home, 'runs', runId);
const stateFile = (runId: string) => join(runDir(runId), 'state.json');
const eventsFile = (runId: string) => join(runDir(runId), 'events.jsonl');

async function cutEvent(runId: string, eventId: number): Promise<void> {
  const lines = (await readFile(eventsFile(runId), 'utf8')).split('\n');
  await writeFile(
    eventsFile(runId),
    lines.filter((line) => !line.startsWith(`{"id":${eventId},`)).join('\n'),
  );
}

async function replay(orchestrator: Orchestrator, runId: string): Promise<{ ids: number[]; error?: Error }> {
  const ids: number[] = [];
  const controller = new AbortController();
  const upTo = orchestrator.listRuns().find((r) => r.id === runId)!.lastEventId;
  try {
    for await (const event of orchestrator.events(runId, 0, controller.signal)) {
      ids.push(event.id);
      if (event.id >= upTo) break;
    }
    return { ids };
  } catch (error) {
    return { ids, error: error as Error };
  } finally {
    controller.abort();
  }
}

function listed(orchestrator: Orchestrator, runId: string): RunSummary {
  const summary = orchestrator.listRuns().find((r) => r.id === runId);
  expect(summary, `run ${runId} is listed`).toBeDefined();
  return summary!;
}

describe('a damaged state.json', () => {
  const damages: [string, (file: string, text: string) => Promise<void>][] = [
    ['truncated', (file, text) => writeFile(file, text.slice(0, Math.floor(text.length * 0.6)))],
    ['emptied', (file) => writeFile(file, '')],
    ['garbage', (file) => writeFile(file, '\u0000\u0000garbage\n')],
    ['removed', (file) => rm(file)],
  ];
  for (const [how, damage] of damages) {
    it(`${how}: the run is rebuilt from its last checkpoint and the journal, nothing runs again`, async () => {
      const runId = await finishedRun();
      const original = await readFile(stateFile(runId), 'utf8');
      await damage(stateFile(runId), original);
      const damagedText = existsSync(stateFile(runId)) ? await readFile(stateFile(runId), 'utf8') : undefined;

      const provider = createScriptedProvider();
      const orchestrator = await open(provider);
      const view = await orchestrator.getRun(runId, { full: true });
      expect(view.status).toBe('completed');
      expect(view.tasks.map((t) => [t.id, t.status, t.result])).toEqual(
        TASKS.map((t) => [t.id, 'done', `result of ${t.id} #1`]),
      );
      expect(view.damage).toMatchObject({
        file: stateFile(runId),
        rebuiltFrom: expect.stringMatching(/^checkpoint cp\d+ and the journal$/) as unknown,
      });
      expect(listed(orchestrator, runId).damage?.rebuiltFrom).toBe(view.damage!.rebuiltFrom);
      // The damaged file is kept beside the rebuilt one; a removed one leaves nothing to keep.
      if (damagedText === undefined) expect(view.damage!.keptAs).toBeUndefined();
      else expect(await readFile(view.damage!.keptAs!, 'utf8')).toBe(damagedText);
      expect(JSON.parse(await readFile(stateFile(runId), 'utf8'))).toMatchObject({
        id: runId,
        status: 'completed',
      });
      expect(provider.calls).toEqual([]);
      expect((await replay(orchestrator, runId)).error).toBeUndefined();
    });
  }

  it('without checkpoints, the journal alone rebuilds it', async () => {
    const runId = await finishedRun();
    await rm(join(runDir(runId), 'checkpoints'), { recursive: true });
    await writeFile(stateFile(runId), '');
    const orchestrator = await open();
    const view = await orchestrator.getRun(runId, { full: true });
    expect(view).toMatchObject({ status: 'completed', damage: { rebuiltFrom: 'the journal alone' } });
    expect(view.tasks.every((t) => t.status === 'done')).toBe(true);
    // The rebuilt document stands on its own at the next start.
    await orchestrator.close(0);
    const again = await open();
    expect(await again.getRun(runId)).toMatchObject({ status: 'completed', taskCounts: { done: 6 } });
  });

  it('of a run that was paused midway: rebuilt, it resumes and does only what was left', async () => {
    const temp = await tempHome('orc-damage-');
    home = temp.home;
    cleanups.push(temp.remove);
    const provider = createScriptedProvider({ latencyMs: (call) => (call.purpose === 'work' ? 20 : 0) });
    const first = await open(provider);
    const run = await first.startRun({ tasks: TASKS });
    const journal = async () =>
      (await readFile(eventsFile(run.id), 'utf8')).match(/task\.completed/g)?.length ?? 0;
    while ((await journal()) < 3) await new Promise((resolve) => setTimeout(resolve, 10));
    await first.pauseRun(run.id);
    await first.close(0);
    const doneBefore = (await readFile(eventsFile(run.id), 'utf8'))
      .split('\n')
      .filter((line) => line.includes('"type":"task.completed"'))
      .map((line) => (JSON.parse(line) as { taskId: string }).taskId);
    await writeFile(stateFile(run.id), '{"version":1,"id":');

    const second = createScriptedProvider();
    const orchestrator = await open(second);
    expect(await orchestrator.getRun(run.id)).toMatchObject({ status: 'paused', pauseReason: 'user' });
    await orchestrator.resumeRun(run.id);
    expect((await orchestrator.waitForRun(run.id)).status).toBe('completed');
    const redone = second.callsFor('work').map((c) => c.taskId);
    expect(redone.filter((id) => doneBefore.includes(id!))).toEqual([]);
    expect(new Set([...doneBefore, ...redone])).toEqual(new Set(TASKS.map((t) => t.id)));
  });
});

describe('a damaged journal', () => {
  it('with a hole where the document must be caught up: damaged, shown, not run, files untouched', async () => {
    const runId = await finishedRun();
    // The document as if saved early on; the journal then lacks an event after it.
    const doc = JSON.parse(await readFile(stateFile(runId), 'utf8')) as { lastEventId: number };
    const behind = 10;
    await writeFile(
      stateFile(runId),
      (await readFile(stateFile(runId), 'utf8')).replace(
        `"lastEventId":${doc.lastEventId},"checkpoints"`,
        `"lastEventId":${behind},"checkpoints"`,
      ),
    );
    await cutEvent(runId, behind + 3);
    const before = await readTree(runDir(runId));

    const provider = createScriptedProvider();
    const orchestrator = await open(provider);
    // Finished, it is found damaged when it is loaded, and listed so from then on.
    expect(await orchestrator.getRun(runId)).toMatchObject({ status: 'damaged', tasks: [] });
    const summary = listed(orchestrator, runId);
    // Its tasks as the index last counted them (it read 0/0).
    expect(summary).toMatchObject({
      status: 'damaged',
      taskTotal: 6,
      taskCounts: { done: 6 },
      damage: { file: eventsFile(runId) },
    });
    expect(summary.damage!.reason).toBe(
      `has a hole: event ${behind + 3} is missing before line ${behind + 3}`,
    );
    expect(summary.damage!.rebuiltFrom).toBeUndefined();
    await expect(orchestrator.retryTask(runId, 't1')).rejects.toMatchObject({
      code: 'INVALID_STATE',
      message: expect.stringContaining(`run ${runId} is damaged: ${eventsFile(runId)} has a hole`) as unknown,
    });
    await expect(orchestrator.resumeRun(runId)).rejects.toThrow(/is damaged/);
    // Replayed up to the hole, and not past it.
    const replayed = await replay(orchestrator, runId);
    expect(replayed.ids).toEqual(Array.from({ length: behind + 2 }, (_, i) => i + 1));
    expect(replayed.error?.message).toContain('has a hole');
    await orchestrator.close(0);
    expect(provider.calls).toEqual([]);
    expect(await readTree(runDir(runId))).toEqual(before);
  });

  it('with a hole in history the document already holds: the run goes on, and the hole is told', async () => {
    const runId = await finishedRun();
    await cutEvent(runId, 5);
    const orchestrator = await open();
    expect(await orchestrator.getRun(runId)).toMatchObject({ status: 'completed' });
    // A start reads none of the history its document holds; `orc doctor`'s check reads it all.
    expect(listed(orchestrator, runId).damage).toBeUndefined();
    const hole = {
      file: eventsFile(runId),
      reason: 'has a hole: event 5 is missing before line 5',
      readsOnAfter: 5,
    };
    expect((await orchestrator.checkRuns()).find((run) => run.id === runId)).toMatchObject({
      status: 'completed',
      damage: hole,
    });
    const replayed = await replay(orchestrator, runId);
    expect(replayed.ids).toEqual([1, 2, 3, 4]);
    expect(replayed.error?.message).toBe(
      `${eventsFile(runId)} has a hole: event 5 is missing before line 5; orc logs ${runId} --after 5 reads on past it; ` +
        `fix: put back a good copy of ${eventsFile(runId)} and restart the daemon (orc daemon stop, then orc daemon start) to read them all`,
    );
    expect(listed(orchestrator, runId)).toMatchObject({ status: 'completed', damage: hole });
  });

  it('with no hole, caught up from near the end of a long journal: the run is not called damaged', async () => {
    // Enough tasks for a journal the catch-up seeks into (over 64 KiB before the saved event): it used
    // to check the first id it read against 0, and a whole run was shown damaged ("events 1–N are
    // missing before line 1"), as after a rollback and a kill -9 with the document behind.
    const runId = await finishedRun(
      Array.from({ length: 120 }, (_, i) => ({ id: `t${i + 1}`, title: `task ${i + 1}`, dependencies: [] })),
    );
    const doc = JSON.parse(await readFile(stateFile(runId), 'utf8')) as { lastEventId: number };
    const behind = doc.lastEventId - 20;
    expect((await stat(eventsFile(runId))).size).toBeGreaterThan(150_000);
    await writeFile(
      stateFile(runId),
      (await readFile(stateFile(runId), 'utf8')).replace(
        `"lastEventId":${doc.lastEventId},"checkpoints"`,
        `"lastEventId":${behind},"checkpoints"`,
      ),
    );
    const orchestrator = await open();
    expect(await orchestrator.getRun(runId)).toMatchObject({ status: 'completed' });
    const summary = listed(orchestrator, runId);
    expect(summary.status).toBe('completed');
    expect(summary.lastEventId).toBe(doc.lastEventId);
    expect(summary.damage).toBeUndefined();
  });

  it('with state.json damaged too: nothing can rebuild the run, so it is damaged, with both reasons', async () => {
    const runId = await finishedRun();
    // A hole after the last checkpoint: every rebuild has to cross it. (One before it is old history.)
    const saved = JSON.parse(await readFile(stateFile(runId), 'utf8')) as {
      checkpoints: { lastEventId: number }[];
    };
    const hole = saved.checkpoints.at(-1)!.lastEventId + 2;
    await cutEvent(runId, hole);
    await writeFile(stateFile(runId), 'garbage');
    const checkpoints = await readdir(join(runDir(runId), 'checkpoints'));
    expect(checkpoints.length).toBeGreaterThan(0);
    const before = await readTree(runDir(runId));

    const orchestrator = await open();
    const summary = listed(orchestrator, runId);
    expect(summary.status).toBe('damaged');
    expect(summary.damage!.file).toBe(stateFile(runId));
    expect(summary.damage!.reason).toMatch(
      new RegExp(
        `^is not valid JSON .*; the run cannot be rebuilt: ${eventsFile(runId)} has a hole: event ${hole} is missing`,
      ),
    );
    // What is known of it still shows: its goal and models, from a checkpoint.
    expect(summary.goal).toBe('Complete the 6 tasks from the task list');
    expect(summary.models.simulated).toBe(false);
    await orchestrator.close(0);
    expect(await readTree(runDir(runId))).toEqual(before);

    // Put right by hand, the run is back at the next start.
    await writeFile(eventsFile(runId), '');
    await rm(join(runDir(runId), 'checkpoints'), { recursive: true });
    await writeFile(stateFile(runId), before.get('checkpoints/' + checkpoints.sort().at(-1))!);
    const again = await open();
    expect(listed(again, runId).status).not.toBe('damaged');
  });

  it('of a run cut off while it worked: its time is what it worked, not its age; the fix is named', async () => {
    const temp = await tempHome('orc-damage-');
    home = temp.home;
    cleanups.push(temp.remove);
    const provider = createScriptedProvider({ latencyMs: (call) => (call.purpose === 'work' ? 20 : 0) });
    const first = await open(provider);
    const run = await first.startRun({ tasks: TASKS });
    const journal = async () =>
      (await readFile(eventsFile(run.id), 'utf8')).match(/task\.completed/g)?.length ?? 0;
    while ((await journal()) < 3) await new Promise((resolve) => setTimeout(resolve, 10));
    // The daemon stops while the run executes; then its document is cut short and a journal line dropped.
    await first.close(0);
    const saved = JSON.parse(await readFile(stateFile(run.id), 'utf8')) as {
      checkpoints: { lastEventId: number }[];
    };
    await cutEvent(run.id, saved.checkpoints.at(-1)!.lastEventId + 2);
    const cut = await readFile(stateFile(run.id), 'utf8');
    await writeFile(stateFile(run.id), cut.slice(0, cut.length / 2));
    const events = (await readFile(eventsFile(run.id), 'utf8')).trimEnd().split('\n');
    const lastAt = (JSON.parse(events.at(-1)!) as OrcEvent).at;

    const orchestrator = await open();
    const summary = listed(orchestrator, run.id);
    expect(summary.status).toBe('damaged');
    // It stopped working at its journal's last event: its time does not count up with the clock
    // (orc ls read 4m57s, its age, for a run that had worked 20 s).
    expect(summary.finishedAt ?? summary.idleSince).toBe(lastAt);
    const now = Date.now();
    expect(runWorkMs(summary, now + 60_000)).toBe(runWorkMs(summary, now));
    expect(runWorkMs(summary, now)).toBeLessThanOrEqual(Date.parse(lastAt) - Date.parse(summary.createdAt));
    await expect(orchestrator.resumeRun(run.id)).rejects.toMatchObject({
      message: expect.stringContaining(
        `; it is kept as it is and not run: orc rm ${run.id} removes it, or put back a good copy of the file and restart the daemon`,
      ) as unknown,
    });
  });

  it('ending before what the document holds: the run goes on from its last event, and that is told', async () => {
    const runId = await finishedRun();
    const lines = (await readFile(eventsFile(runId), 'utf8')).trimEnd().split('\n');
    await writeFile(eventsFile(runId), lines.slice(0, -3).join('\n') + '\n');
    const orchestrator = await open();
    const summary = listed(orchestrator, runId);
    // Seen at start: the journal does not end where the index says the run did.
    expect(summary.status).toBe('completed');
    expect(summary.damage).toMatchObject({ file: eventsFile(runId) });
    const view = await orchestrator.getRun(runId);
    expect(view.lastEventId).toBe(lines.length - 3);
    expect(view.damage).toMatchObject({ file: eventsFile(runId) });
    expect(view.damage!.reason).toMatch(/^ends at event \d+, but state\.json reflects events up to \d+/);
    const ids: number[] = [];
    const checkpoint = await orchestrator.createCheckpoint(runId);
    const controller = new AbortController();
    for await (const event of orchestrator.events(runId, 0, controller.signal)) {
      ids.push(event.id);
      if (event.type === 'checkpoint.created' && event.checkpoint.id === checkpoint.id) break;
    }
    controller.abort();
    // No hole: the next event follows the journal's last one.
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => i + 1));
    const events: OrcEvent[] = (await readFile(eventsFile(runId), 'utf8'))
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as OrcEvent);
    expect(events.map((e) => e.id)).toEqual(Array.from({ length: events.length }, (_, i) => i + 1));
  });
});

describe('a configuration saved with a run', () => {
  it('is checked against the schema on load: a wrong value is a damaged run naming the key, not a crash', async () => {
    const runId = await finishedRun();
    const saved = await readFile(stateFile(runId), 'utf8');
    // As a person editing state.json by hand might leave it.
    const edited = saved.replace(/"max_workers":\d+/, '"max_workers":"many"');
    expect(edited).not.toBe(saved);
    await writeFile(stateFile(runId), edited);
    const before = await readTree(runDir(runId));

    const provider = createScriptedProvider();
    const orchestrator = await open(provider);
    expect(await orchestrator.getRun(runId)).toMatchObject({ status: 'damaged' });
    const summary = listed(orchestrator, runId);
    expect(summary.damage).toMatchObject({ file: stateFile(runId) });
    expect(summary.damage!.reason).toMatch(
      new RegExp(
        `^cannot be restored: the configuration saved with run ${runId}: config key execution\\.max_workers .*\\(got "many"\\)$`,
      ),
    );
    await orchestrator.close(0);
    expect(provider.calls).toEqual([]);
    expect(await readTree(runDir(runId))).toEqual(before);

    // Put right, the run loads again.
    await writeFile(stateFile(runId), saved);
    const again = await open();
    expect(await again.getRun(runId)).toMatchObject({ status: 'completed' });
  });
});
