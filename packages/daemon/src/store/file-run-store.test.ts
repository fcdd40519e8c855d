import {
  appendFile,
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  truncate,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { statePaths, type CheckpointInfo, type OrcEvent, type TaskRecord } from '@orc/shared';
import { eventually } from '@orc/test-support';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DamagedFileError } from './damaged-file-error.js';
import { TaskChanges } from './document-task-list.js';
import { openFileRunStore, type FileRunStore } from './file-run-store.js';
import {
  TaskText,
  recordOfTask,
  type KeptRunDocument,
  type RunDocument,
  type RunDocumentToWrite,
} from './run-document.js';
import { RunDocumentFile } from './run-document-file.js';
import { RunDocumentText } from './run-document-text.js';

let stateDir: string;
let store: FileRunStore | undefined;
beforeEach(async () => {
  stateDir = join(await mkdtemp(join(tmpdir(), 'orc-store-')), 'state');
});
afterEach(async () => {
  await store?.close();
  store = undefined;
  await rm(join(stateDir, '..'), { recursive: true, force: true });
});

function runDocument(id: string, overrides: Partial<RunDocument> = {}): RunDocument {
  const usage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };
  return {
    version: 1,
    id,
    goal: `goal of ${id}`,
    status: 'analyzing',
    models: {
      manager: { provider: 'simulated', model: 'opus' },
      worker: { provider: 'simulated', model: 'sonnet' },
      simulated: true,
    },
    config: {},
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
    tasks: [],
    importedTasks: false,
    usage,
    costUsd: 0,
    runSnapshot: { value: 'analyzing' },
    lastEventId: 0,
    checkpoints: [],
    tasksDoneSinceCheckpoint: 0,
    ...overrides,
  };
}

const task = (n: number): RunDocument['tasks'][number] => ({
  id: `t${n}`,
  title: `task ${n}`,
  description: 'd'.repeat(200),
  dependencies: [],
  priority: 'medium',
  status: 'pending',
  attempts: [],
  reworks: 0,
});

const mode = async (path: string) => (await stat(path)).mode & 0o777;

describe('FileRunStore', () => {
  it('creates the state dir 0700 (tightening an existing one) and every file 0600', async () => {
    await mkdir(stateDir, { mode: 0o755 });
    await chmod(stateDir, 0o755);
    store = await openFileRunStore(stateDir);
    await store.createRun(runDocument('r1'));
    await store.appendEvents('r1', [{ id: 1, runId: 'r1', at: 'now', type: 'run.resumed' }]);
    await store.writeCheckpoint(checkpoint('r1', 'c1'), runDocument('r1'));

    const paths = statePaths(stateDir);
    const run = paths.run('r1');
    for (const dir of [paths.root, paths.runs, run.dir, run.checkpoints]) expect(await mode(dir)).toBe(0o700);
    for (const file of [paths.index, run.state, run.events, run.checkpoint('c1')]) {
      expect(await mode(file)).toBe(0o600);
    }
    expect((await readdir(run.dir)).sort()).toEqual(['checkpoints', 'events.jsonl', 'state.json']);
  });

  it('writes a new run and its index entry durably before createRun resolves', async () => {
    store = await openFileRunStore(stateDir);
    await store.createRun(runDocument('r1'));
    const paths = statePaths(stateDir);
    expect(JSON.parse(await readFile(paths.run('r1').state, 'utf8'))).toMatchObject({ id: 'r1' });
    expect(JSON.parse(await readFile(paths.index, 'utf8'))).toEqual({
      version: 1,
      runs: [{ id: 'r1', goal: 'goal of r1', status: 'analyzing', createdAt: '2025-01-01T00:00:00.000Z' }],
    });
    await expect(store.createRun(runDocument('r1'))).rejects.toThrow('already exists');
    await expect(store.createRun(runDocument('../escape'))).rejects.toThrow('cannot name a folder');
  });

  it('coalesces saves, keeps the index status in step, and restores the latest document', async () => {
    store = await openFileRunStore(stateDir, { minIntervalMs: 50 });
    const doc = runDocument('r1');
    await store.createRun(doc);
    const before = store.stats().stateWrites;
    for (let n = 0; n < 200; n++) {
      doc.tasks.push(task(n));
      doc.status = 'executing';
      store.scheduleSave('r1', () => doc);
    }
    await store.flush('r1');
    expect(store.stats().stateWrites - before).toBeLessThanOrEqual(3); // ≤ 2 documents + 1 index

    expect(await store.listIndex()).toMatchObject([{ id: 'r1', status: 'executing' }]);
    await store.close();

    store = await openFileRunStore(stateDir);
    const { runs, problems } = await store.listRuns();
    expect(problems).toEqual([]);
    expect(runs.map((run) => run.id)).toEqual(['r1']);
    const loaded = await store.loadRun('r1');
    expect(loaded.tasks).toHaveLength(200);
    expect(loaded.status).toBe('executing');
  });

  it('names the file and what is wrong with a damaged state.json, and opens nothing of that run', async () => {
    store = await openFileRunStore(stateDir);
    for (const id of ['good', 'corrupt', 'invalid', 'gone', 'empty']) await store.createRun(runDocument(id));
    await store.close();
    const paths = statePaths(stateDir);
    const whole = await readFile(paths.run('corrupt').state, 'utf8');
    await writeFile(paths.run('corrupt').state, whole.slice(0, whole.length / 2)); // truncated
    await writeFile(
      paths.run('invalid').state,
      JSON.stringify({ ...runDocument('invalid'), status: 'sleeping' }),
    );
    await rm(paths.run('gone').state);
    await writeFile(paths.run('empty').state, '');

    store = await openFileRunStore(stateDir);
    const { runs } = await store.listRuns();
    expect(runs.map((run) => run.id).sort()).toEqual(['corrupt', 'empty', 'gone', 'good', 'invalid']);
    expect((await store.loadRun('good')).id).toBe('good');
    const damage = async (id: string) => {
      const error = await store!.loadRun(id).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DamagedFileError);
      return error as DamagedFileError;
    };
    expect(await damage('corrupt')).toMatchObject({ file: paths.run('corrupt').state });
    expect((await damage('corrupt')).reason).toMatch(/^is not valid JSON/);
    expect((await damage('invalid')).reason).toMatch(/^is not a valid run document \(status: /);
    expect((await damage('gone')).reason).toBe('is missing');
    expect((await damage('empty')).reason).toBe('is empty');
    expect(() => store!.scheduleSave('corrupt', () => runDocument('corrupt'))).toThrow(
      /run "corrupt" not found/,
    );
    // The quick look at the file's ends tells the same, without reading it.
    expect(await store.probeRun('good')).toBeUndefined();
    expect((await store.probeRun('corrupt'))?.reason).toBe('does not end like a whole run document');
    expect((await store.probeRun('gone'))?.reason).toBe('is missing');
    expect((await store.probeRun('empty'))?.reason).toBe('is empty');
    await writeFile(paths.run('invalid').state, `  ${whole}`);
    expect((await store.probeRun('invalid'))?.reason).toBe('does not begin like a run document');
  });

  it('rebuilds an unreadable index from the run folders', async () => {
    store = await openFileRunStore(stateDir);
    await store.createRun(runDocument('r1'));
    await store.createRun(runDocument('r2', { status: 'completed' }));
    await store.close();
    await writeFile(statePaths(stateDir).index, 'garbage');

    store = await openFileRunStore(stateDir);
    const { runs, problems } = await store.listRuns();
    expect(runs.map((run) => run.id).sort()).toEqual(['r1', 'r2']);
    expect(problems).toEqual([expect.stringContaining('index.json is unreadable')]);
    for (const run of runs) await store.loadRun(run.id);
    await store.flush();
    const index = JSON.parse(await readFile(statePaths(stateDir).index, 'utf8')) as {
      runs: { id: string }[];
    };
    expect(index.runs.map((entry) => entry.id).sort()).toEqual(['r1', 'r2']);
  });

  it('rewrites a document over 64 KB only once the journal has grown by four times its size, or the run changed status', async () => {
    store = await openFileRunStore(stateDir, { minIntervalMs: 0, durationFactor: 0 });
    const doc = runDocument('r1', {
      status: 'executing',
      // Ready: live tasks, written whole (a waiting one is named by its id).
      tasks: Array.from({ length: 5_000 }, (_, n) => ({ ...task(n), status: 'ready' as const })),
    });
    await store.createRun(doc);
    const documentBytes = (await stat(store.stateFile('r1'))).size;
    expect(documentBytes).toBeGreaterThan(64 * 1024);
    let id = 0;
    const append = async (bytes: number) => {
      const event = {
        id: ++id,
        runId: 'r1',
        at: 'now',
        type: 'run.concurrency' as const,
        limit: 1,
        reason: '',
      };
      event.reason = 'x'.repeat(Math.max(0, Math.ceil(bytes) - JSON.stringify(event).length - 1));
      await store!.appendEvents('r1', [event]);
      doc.lastEventId = id;
    };
    const writes = () => store!.stats().stateWrites;
    const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

    const start = writes();
    store.scheduleSave('r1', () => doc);
    await append(documentBytes * 3.5);
    await settle();
    expect(writes()).toBe(start); // held: the journal has grown by 3.5 documents
    await append(documentBytes / 2 + 10);
    await eventually(() => writes() === start + 1, 'the document written');

    // A status change is written at once, and a flush writes what is held.
    store.scheduleSave('r1', () => doc);
    await append(100);
    await settle();
    expect(writes()).toBe(start + 1);
    doc.status = 'paused';
    id++;
    await store.appendEvents('r1', [{ id, runId: 'r1', at: 'now', type: 'run.status', status: 'paused' }]);
    doc.lastEventId = id;
    await eventually(
      async () =>
        (JSON.parse(await readFile(store!.stateFile('r1'), 'utf8')) as RunDocument).status === 'paused',
      'the paused document written',
    );
    doc.goal = 'held, then flushed';
    store.scheduleSave('r1', () => doc);
    await settle();
    expect((JSON.parse(await readFile(store.stateFile('r1'), 'utf8')) as RunDocument).goal).toBe(
      'goal of r1',
    );
    await store.flush('r1');
    expect((JSON.parse(await readFile(store.stateFile('r1'), 'utf8')) as RunDocument).goal).toBe(
      'held, then flushed',
    );
  });

  it('does not hold a large finished run’s save for a journal that grows no more, nor once it is loaded again', async () => {
    store = await openFileRunStore(stateDir, { minIntervalMs: 0, durationFactor: 0 });
    const doc = runDocument('r1', {
      status: 'executing',
      tasks: Array.from({ length: 5_000 }, (_, n) => ({ ...task(n), status: 'ready' as const })),
    });
    await store.createRun(doc);
    expect((await stat(store.stateFile('r1'))).size).toBeGreaterThan(64 * 1024);
    const onDisk = async () => JSON.parse(await readFile(store!.stateFile('r1'), 'utf8')) as RunDocument;
    // As a run does: the save asked for as the events are told, then they are journalled.
    const append = async (...events: OrcEvent[]) => {
      doc.lastEventId = events.at(-1)!.id;
      store!.scheduleSave('r1', () => doc);
      await store!.appendEvents('r1', events);
    };
    doc.status = 'completed';
    doc.tasks = doc.tasks.map((t) => ({ ...t, status: 'done' as const }));
    await append(
      { id: 1, runId: 'r1', at: 'now', type: 'run.status', status: 'completed' },
      {
        id: 2,
        runId: 'r1',
        at: 'now',
        type: 'run.completed',
        review: { verdict: 'success', summary: '', followUps: [] },
      },
    );
    await eventually(async () => (await onDisk()).lastEventId === 2, 'the finished document written');

    // A later event (a manual checkpoint) is written without waiting for the daemon to close: killed
    // before then, the run was behind its journal at the next start, and rewritten whole.
    doc.checkpoints = [checkpoint('r1', 'c1')];
    await append({
      id: 3,
      runId: 'r1',
      at: 'now',
      type: 'checkpoint.created',
      checkpoint: doc.checkpoints[0]!,
    });
    await eventually(async () => (await onDisk()).lastEventId === 3, 'the checkpoint’s document written');

    // Loaded again (a new daemon), the same holds.
    await store.releaseRun('r1');
    store = await openFileRunStore(stateDir, { minIntervalMs: 0, durationFactor: 0 });
    const loaded = await store.loadRun('r1');
    loaded.checkpoints = [...loaded.checkpoints, checkpoint('r1', 'c2')];
    await store.appendEvents('r1', [
      { id: 4, runId: 'r1', at: 'now', type: 'checkpoint.created', checkpoint: loaded.checkpoints[1]! },
    ]);
    store.scheduleSave('r1', () => ({ ...loaded, lastEventId: 4 }));
    await eventually(async () => (await onDisk()).lastEventId === 4, 'the loaded run’s document written');
  });

  it('writes a large document loaded again once the journal past it, the tail a restore catches up with included, has grown by four times its size', async () => {
    store = await openFileRunStore(stateDir, { minIntervalMs: 0, durationFactor: 0 });
    const doc = runDocument('r1', {
      status: 'executing',
      tasks: Array.from({ length: 5_000 }, (_, n) => ({ ...task(n), status: 'ready' as const })),
    });
    await store.createRun(doc);
    const documentBytes = (await stat(store.stateFile('r1'))).size;
    let id = 0;
    const append = async (bytes: number) => {
      const event = {
        id: ++id,
        runId: 'r1',
        at: 'now',
        type: 'run.concurrency' as const,
        limit: 1,
        reason: '',
      };
      event.reason = 'x'.repeat(Math.max(0, Math.ceil(bytes) - JSON.stringify(event).length - 1));
      await store!.appendEvents('r1', [event]);
    };
    // Two documents' size of journal past the document on disk, then the daemon dies (no flush).
    await append(documentBytes);
    await append(documentBytes);
    await store.releaseRun('r1');

    store = await openFileRunStore(stateDir, { minIntervalMs: 0, durationFactor: 0 });
    const loaded = await store.loadRun('r1');
    expect(loaded.lastEventId).toBe(0);
    // Nothing is lost while the document waits: the journal holds the events past it.
    const tail: number[] = [];
    for await (const event of store.readEvents('r1', loaded.lastEventId)) tail.push(event.id);
    expect(tail).toEqual([1, 2]);
    const writes = () => store!.stats().stateWrites;
    const settle = () => new Promise((resolve) => setTimeout(resolve, 50));
    store.scheduleSave('r1', () => ({ ...loaded, lastEventId: id }));
    await settle();
    expect(writes()).toBe(0); // held: two documents' size of journal past it, of four
    await append(documentBytes * 1.5);
    await settle();
    expect(writes()).toBe(0); // three and a half
    await append(documentBytes / 2 + 10);
    await eventually(() => writes() > 0, 'the document written');
    await store.flush('r1');
    expect((JSON.parse(await readFile(store.stateFile('r1'), 'utf8')) as RunDocument).lastEventId).toBe(id);
  });

  it('appends, reads and counts events per run', async () => {
    store = await openFileRunStore(stateDir);
    await store.createRun(runDocument('r1'));
    const events: OrcEvent[] = [1, 2, 3].map((id) => ({ id, runId: 'r1', at: 'now', type: 'run.resumed' }));
    await Promise.all(events.map((event) => store!.appendEvents('r1', [event])));
    const read: number[] = [];
    for await (const event of store.readEvents('r1', 1)) read.push(event.id);
    expect(read).toEqual([2, 3]);
    expect((await store.lastEvent('r1'))?.id).toBe(3);
    expect(store.stats().eventBytes).toBe(events.reduce((sum, e) => sum + JSON.stringify(e).length + 1, 0));
    // Any run folder's journal can be read; nothing outside the state directory can be named.
    const none: OrcEvent[] = [];
    for await (const event of store.readEvents('nope', 0)) none.push(event);
    expect(none).toEqual([]);
    expect(() => store!.readEvents('../nope', 0)).toThrow(/run "\.\.\/nope" not found/);
  });

  it('round-trips a checkpoint and names the run and checkpoint when one is missing', async () => {
    store = await openFileRunStore(stateDir);
    const doc = runDocument('r1', { tasks: [task(1)], status: 'executing' });
    await store.createRun(doc);
    await store.writeCheckpoint(checkpoint('r1', 'c1'), doc);
    doc.tasks.push(task(2)); // later changes do not reach the checkpoint
    expect((await store.readCheckpoint('r1', 'c1')).tasks).toHaveLength(1);

    const missing = await store.readCheckpoint('r1', 'c9').catch((error: unknown) => error);
    expect(missing).toMatchObject({ code: 'CHECKPOINT_NOT_FOUND' });
    expect((missing as Error).message).toMatch(/checkpoint "c9" of run r1/);
    await expect(store.readCheckpoint('r1', '../state')).rejects.toMatchObject({
      code: 'CHECKPOINT_NOT_FOUND',
    });
  });

  it('removes a run for good: its folder and index entry, and it does not come back on open', async () => {
    store = await openFileRunStore(stateDir);
    await store.createRun(runDocument('r1', { status: 'completed' }));
    await store.createRun(runDocument('r2'));
    await store.appendEvents('r1', [
      { id: 1, runId: 'r1', at: '2025-01-01T00:00:00.000Z', type: 'run.status', status: 'completed' },
    ]);
    await store.removeRun('r1');
    expect((await store.listIndex()).map((e) => e.id)).toEqual(['r2']);
    expect((await readdir(statePaths(stateDir).runs)).sort()).toEqual(['index.json', 'r2']);
    await expect(store.removeRun('r1')).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' });
    await store.close();
    store = await openFileRunStore(stateDir);
    expect((await store.listRuns()).runs.map((r) => r.id)).toEqual(['r2']);
  });

  it('finishes a removal a crash cut short after the rename', async () => {
    store = await openFileRunStore(stateDir);
    await store.createRun(runDocument('r1', { status: 'completed' }));
    await store.close();
    store = undefined;
    // As if the daemon died right after renaming the folder: the index still lists the run.
    const paths = statePaths(stateDir);
    await rename(paths.run('r1').dir, join(paths.runs, '.removed-r1'));
    store = await openFileRunStore(stateDir);
    const listed = await store.listRuns();
    expect(listed).toEqual({ runs: [], problems: [] });
    expect(await store.listIndex()).toEqual([]);
    // The index without it is written as every index change is: coalesced, so wait for it.
    await store.flush();
    expect(await readdir(paths.runs)).toEqual(['index.json']);
  });
});

function checkpoint(runId: string, id: string): CheckpointInfo {
  return { id, runId, createdAt: '2025-01-01T00:00:00.000Z', reason: 'manual', tasksDone: 0, lastEventId: 0 };
}

describe('FileRunStore: settled tasks in their segment', () => {
  const done = (n: number, result = `result ${n}`): TaskRecord => ({ ...task(n), status: 'done', result });
  /** The document as the run hands it: settled tasks as their text. */
  const kept = (id: string, tasks: RunDocument['tasks']): RunDocumentToWrite => ({
    ...runDocument(id, { status: 'executing' }),
    tasks: tasks.map((t) => (t.status === 'done' ? TaskText.of(t) : t)),
  });
  const statusesOf = (doc: KeptRunDocument) => doc.tasks.map((t) => `${t.id} ${t.status}`);
  const runFile = (name: string) => join(stateDir, 'runs', 'r1', name);

  async function reopened(): Promise<KeptRunDocument> {
    await store!.close();
    store = await openFileRunStore(stateDir);
    return store.loadRun('r1');
  }

  it('writes settled and waiting tasks once to settled.jsonl, names them by id in state.json, and loads them as text', async () => {
    store = await openFileRunStore(stateDir);
    await store.createRun(runDocument('r1'));
    const ready = { ...task(4), status: 'ready' as const };
    const first = kept('r1', [done(1), task(2), done(3), ready]);
    store.scheduleSave('r1', () => first);
    await store.flush('r1');
    const state = await readFile(runFile('state.json'), 'utf8');
    // A live (ready) task is written whole.
    expect(state.split('\n').slice(1, 5)).toEqual(['"t1",', '"t2",', '"t3",', JSON.stringify(ready) + ']}']);
    const segmentBytes = (await stat(runFile('settled.jsonl'))).size;
    expect((JSON.parse(state.split('\n')[0]! + ']}') as RunDocument).settled).toEqual({
      file: 'settled.jsonl',
      bytes: segmentBytes,
    });
    // A later document with the same settled tasks writes none of them again.
    store.scheduleSave('r1', () => ({ ...first, lastEventId: 0, goal: 'again' }));
    await store.flush('r1');
    expect((await stat(runFile('settled.jsonl'))).size).toBe(segmentBytes);
    // A checkpoint stays a whole document.
    await store.writeCheckpoint(checkpoint('r1', 'cp1'), first);
    const whole = JSON.parse(await readFile(runFile('checkpoints/cp1.json'), 'utf8')) as RunDocument;
    expect(whole.tasks).toEqual([done(1), task(2), done(3), ready]);
    expect(whole.settled).toBeUndefined();

    const loaded = await reopened();
    expect(loaded.settled).toBeUndefined();
    expect(loaded.tasks.map((t) => t instanceof TaskText)).toEqual([true, true, true, false]);
    expect(loaded.tasks.map(recordOfTask)).toEqual([done(1), task(2), done(3), ready]);
  });

  it('saves the tasks a save hands over as changed, the rest as the last save left them', async () => {
    store = await openFileRunStore(stateDir);
    await store.createRun(runDocument('r1'));
    const fields = runDocument('r1', { status: 'executing' });
    const save = async (tasks: TaskChanges) => {
      store!.scheduleSave('r1', () => ({ ...fields, tasks }));
      await store!.flush('r1');
    };
    await save(TaskChanges.whole([TaskText.of(done(1)), task(2), { ...task(3), status: 'ready' }]));
    const segmentBytes = (await stat(runFile('settled.jsonl'))).size;
    // t3 done, t2 freed: only they are handed over.
    await save(TaskChanges.some([TaskText.of(done(3)), { ...task(2), status: 'ready' }]));
    expect(statusesOf(await reopened())).toEqual(['t1 done', 't2 ready', 't3 done']);
    // Only t3's line was added to the segment.
    const lines = (await readFile(runFile('settled.jsonl'), 'utf8')).split('\n').filter(Boolean);
    expect(lines.map((line) => (JSON.parse(line.split('\t')[0]!) as string[])[0])).toEqual([
      't1',
      't2',
      't3',
    ]);
    expect((await stat(runFile('settled.jsonl'))).size).toBeGreaterThan(segmentBytes);
    // After a restore, the run hands over every task first (TaskSet.changes), then what changes.
    const loaded = await reopened();
    await save(TaskChanges.whole(loaded.tasks));
    await save(TaskChanges.some([TaskText.of(done(2))]));
    // Finished: the document is whole, made of the list as the saves left it.
    store.scheduleSave('r1', () => ({ ...fields, status: 'completed', tasks: TaskChanges.some([]) }));
    await store.flush('r1');
    const whole = JSON.parse(await readFile(runFile('state.json'), 'utf8')) as RunDocument;
    expect(whole.tasks).toEqual([done(1), done(2), done(3)]);
    expect(await readdir(join(stateDir, 'runs', 'r1'))).not.toContain('settled.jsonl');
  });

  it('writes a ready task as its change from the waiting record the segment holds, and loads it whole', async () => {
    store = await openFileRunStore(stateDir);
    await store.createRun(runDocument('r1'));
    const fields = runDocument('r1', { status: 'executing' });
    const save = async (tasks: TaskChanges) => {
      store!.scheduleSave('r1', () => ({ ...fields, tasks }));
      await store!.flush('r1');
    };
    const waiting = task(2);
    await save(TaskChanges.whole([TaskText.of(done(1)), waiting]));
    const ready = { ...waiting, status: 'ready' as const, readyAt: '2025-01-01T00:00:05.000Z' };
    await save(TaskChanges.some([ready]));
    const line = `{"@":"t2","status":"ready","readyAt":"2025-01-01T00:00:05.000Z"}`;
    expect((await readFile(runFile('state.json'), 'utf8')).split('\n')[2]).toBe(`${line}]}`);
    const loaded = await reopened();
    expect(loaded.tasks.map(recordOfTask)).toEqual([done(1), ready]);
    // Restored, its waiting record is the segment's text: the change is the same.
    await save(TaskChanges.whole(loaded.tasks));
    expect((await readFile(runFile('state.json'), 'utf8')).split('\n')[2]).toBe(`${line}]}`);
    expect((await reopened()).tasks.map(recordOfTask)).toEqual([done(1), ready]);
  });

  it('names by id, and loads, tasks whose ids have quotes and backslashes in them', async () => {
    store = await openFileRunStore(stateDir);
    await store.createRun(runDocument('r1'));
    const odd = [
      { ...done(1), id: 'a"b' },
      { ...done(2), id: 'c\\d' },
      { ...task(3), id: '\\' },
    ];
    store.scheduleSave('r1', () => kept('r1', odd));
    await store.flush('r1');
    expect((await readFile(runFile('state.json'), 'utf8')).split('\n').slice(1)).toEqual([
      '"a\\"b",',
      '"c\\\\d",',
      '"\\\\"]}',
      '',
    ]);
    expect((await reopened()).tasks.map(recordOfTask)).toEqual(odd);
  });

  it("writes a finished run's document whole, as scripts read it, and lets the segment go", async () => {
    store = await openFileRunStore(stateDir);
    await store.createRun(runDocument('r1'));
    store.scheduleSave('r1', () => kept('r1', [done(1), task(2)]));
    await store.flush('r1');
    expect((await readdir(join(stateDir, 'runs', 'r1'))).sort()).toContain('settled.jsonl');
    const finished = {
      ...kept('r1', [done(1), { ...done(2), status: 'skipped' as const }]),
      status: 'completed' as const,
    };
    store.scheduleSave('r1', () => finished);
    await store.flush('r1');
    const whole = JSON.parse(await readFile(runFile('state.json'), 'utf8')) as RunDocument;
    expect(whole.tasks).toEqual([done(1), { ...done(2), status: 'skipped' }]);
    expect(whole.settled).toBeUndefined();
    expect((await readdir(join(stateDir, 'runs', 'r1'))).sort()).toEqual(['state.json']);
    // Reopened (a task retried), its settled tasks go to a new segment.
    store.scheduleSave('r1', () => kept('r1', [done(1), task(2)]));
    await store.flush('r1');
    expect((await readFile(runFile('state.json'), 'utf8')).split('\n')[1]).toBe('"t1",');
    expect(statusesOf(await reopened())).toEqual(['t1 done', 't2 pending']);
  });

  it('loads a task un-settled by a rollback as the document has it, and settled again as it was last', async () => {
    store = await openFileRunStore(stateDir);
    await store.createRun(runDocument('r1'));
    const save = async (doc: RunDocumentToWrite) => {
      store!.scheduleSave('r1', () => doc);
      await store!.flush('r1');
    };
    await save(kept('r1', [done(1, 'first'), done(2)]));
    // Rolled back: t1 waits to run again.
    await save(kept('r1', [task(1), done(2)]));
    expect(statusesOf(await reopened())).toEqual(['t1 pending', 't2 done']);
    // Run again, with another result.
    await save(kept('r1', [done(1, 'second'), done(2)]));
    const again = await reopened();
    expect(again.tasks.map((t) => recordOfTask(t).result)).toEqual(['second', 'result 2']);
    // And the checkpoint from before still gives the first.
    await store.writeCheckpoint(checkpoint('r1', 'cp1'), kept('r1', [done(1, 'first'), done(2)]));
    expect(recordOfTask((await store.readCheckpoint('r1', 'cp1')).tasks[0]!).result).toBe('first');
  });

  it('loads a document written before settled tasks had their segment (every task whole)', async () => {
    store = await openFileRunStore(stateDir);
    await store.createRun(runDocument('r1'));
    await store.close();
    store = undefined;
    // Written as earlier versions wrote it: no segment, every record in the document.
    const old = new RunDocumentFile(runFile('state.json'), 'r1', new RunDocumentText()).open();
    old.data = runDocument('r1', { status: 'executing', tasks: [done(1), task(2)] });
    await old.write();
    store = await openFileRunStore(stateDir);
    const loaded = await store.loadRun('r1');
    expect(loaded.tasks).toEqual([done(1), task(2)]);
    // Its next save moves the settled task to the segment.
    store.scheduleSave('r1', () => kept('r1', [done(1), task(2)]));
    await store.flush('r1');
    expect((await readFile(runFile('state.json'), 'utf8')).split('\n')[1]).toBe('"t1",');
    expect((await reopened()).tasks.map(recordOfTask)).toEqual([done(1), task(2)]);
  });

  it('loads past a torn segment write (a kill -9 before the document), and goes on writing after it', async () => {
    store = await openFileRunStore(stateDir);
    await store.createRun(runDocument('r1'));
    store.scheduleSave('r1', () => kept('r1', [done(1), task(2)]));
    await store.flush('r1');
    await appendFile(runFile('settled.jsonl'), '["t2","done","task 2",[]]\t{"id":"t2","sta');
    expect(statusesOf(await reopened())).toEqual(['t1 done', 't2 pending']);
    store.scheduleSave('r1', () => kept('r1', [done(1), done(2)]));
    await store.flush('r1');
    // t1 done, t2 waiting, t2 done: the torn line is written over.
    expect((await readFile(runFile('settled.jsonl'), 'utf8')).split('\n').filter(Boolean)).toHaveLength(3);
    expect(statusesOf(await reopened())).toEqual(['t1 done', 't2 done']);
  });

  it('says the run is damaged, naming settled.jsonl, when the segment lost what the document names', async () => {
    store = await openFileRunStore(stateDir);
    await store.createRun(runDocument('r1'));
    store.scheduleSave('r1', () => kept('r1', [done(1), done(2)]));
    await store.flush('r1');
    await store.close();
    const bytes = (await stat(runFile('settled.jsonl'))).size;
    await truncate(runFile('settled.jsonl'), 20);
    store = await openFileRunStore(stateDir);
    const error = await store.loadRun('r1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DamagedFileError);
    expect((error as DamagedFileError).message).toBe(
      `${runFile('settled.jsonl')} holds 20 bytes, but the run document takes ${bytes}; it was cut short`,
    );
    await rm(runFile('settled.jsonl'));
    const missing = await store.loadRun('r1').catch((e: unknown) => e);
    expect((missing as DamagedFileError).reason).toMatch(/^is missing; the run document takes/);
  });
});
