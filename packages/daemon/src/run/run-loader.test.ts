import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OrcEvent, TaskRecord } from '@orc/shared';
import pino from 'pino';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { openFileRunStore, type FileRunStore } from '../store/file-run-store.js';
import type { RunDocument } from '../store/run-document.js';
import { loadRunDocument } from './run-loader.js';

let home: string;
let store: FileRunStore | undefined;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'orc-loader-'));
});
afterEach(async () => {
  await store?.close();
  store = undefined;
  await rm(home, { recursive: true, force: true });
});

const logger = pino({ level: 'silent' });
const usage = { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0 };

/** A task in flight: its first attempt begun. */
const running = (n: number): TaskRecord => ({
  id: `t${n}`,
  title: `task ${n}`,
  description: 'd'.repeat(200),
  dependencies: [],
  priority: 'medium',
  status: 'running',
  attempts: [
    { n: 1, worker: 0, startedAt: '2025-01-01T00:00:00.000Z', outcome: 'running', usage, costUsd: 0 },
  ],
  reworks: 0,
});

const runDocument = (tasks: TaskRecord[]): RunDocument => ({
  version: 1,
  id: 'r1',
  goal: 'goal',
  status: 'executing',
  models: {
    manager: { provider: 'simulated', model: 'opus' },
    worker: { provider: 'simulated', model: 'sonnet' },
    simulated: true,
  },
  config: {},
  createdAt: '2025-01-01T00:00:00.000Z',
  updatedAt: '2025-01-01T00:00:00.000Z',
  tasks,
  importedTasks: false,
  usage,
  costUsd: 0,
  runSnapshot: { status: 'active', value: 'executing', context: {}, children: {} },
  lastEventId: 0,
  checkpoints: [],
  tasksDoneSinceCheckpoint: 0,
});

const completed = (id: number, taskId: string): OrcEvent => ({
  id,
  runId: 'r1',
  at: '2025-01-01T00:01:00.000Z',
  type: 'task.completed',
  taskId,
  attempt: 1,
  result: `result of ${taskId}`,
  usage,
  costUsd: 0.01,
});

/** The daemon dies: nothing is flushed, its files are let go, and a new store opens the state directory. */
async function killAndReopen(): Promise<FileRunStore> {
  await store!.releaseRun('r1');
  store = await openFileRunStore(home, { minIntervalMs: 0, durationFactor: 0 });
  return store;
}

it('loses no finished result when a restored run is killed again before its large document is rewritten', async () => {
  store = await openFileRunStore(home, { minIntervalMs: 0, durationFactor: 0 });
  await store.createRun(runDocument(Array.from({ length: 400 }, (_, n) => running(n))));
  expect((await stat(store.stateFile('r1'))).size).toBeGreaterThan(64 * 1024);
  await store.appendEvents('r1', [completed(1, 't0')]);

  // The first restart: t0's completion is caught up from the journal, and the document waits (it is
  // large, and the journal past it has not grown by four times its size).
  const first = await loadRunDocument(await killAndReopen(), 'r1', { now: 'now', logger });
  if (!('doc' in first)) throw new Error(`damaged: ${first.damage.reason}`);
  expect(first.doc.tasks.find((t) => t.id === 't0')?.status).toBe('done');
  store.scheduleSave('r1', () => ({ ...first.doc, lastEventId: 2 }));
  await store.appendEvents('r1', [completed(2, 't1')]);
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(store.stats().stateWrites).toBe(0);

  // Killed again before the document was rewritten: both results come back from the journal.
  const second = await loadRunDocument(await killAndReopen(), 'r1', { now: 'now', logger });
  if (!('doc' in second)) throw new Error(`damaged: ${second.damage.reason}`);
  const done = second.doc.tasks.filter((t) => t.status === 'done');
  expect(done.map((t) => t.id)).toEqual(['t0', 't1']);
  expect(second.doc.lastEventId).toBe(2);
});
