import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OrcEvent, RunView, TaskSpecInput } from '@orc/shared';
import {
  createScriptedProvider,
  eventually,
  foldJournal,
  onTheWire,
  readJournal,
  tempHome,
  testConfig,
} from '@orc/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { createOrchestrator } from '../orchestrator/create-orchestrator.js';
import type { Orchestrator } from '../orchestrator/orchestrator.js';
import type { KeptRunDocument, RunDocument } from '../store/run-document.js';
import { rebuildRunDocument } from './rebuild-run.js';
import { readRunFolder } from '../store/run-document-file.js';

// a → b → c, and d on its own.
const TASKS: TaskSpecInput[] = [
  { id: 'a', title: 'A' },
  { id: 'b', title: 'B', dependencies: ['a'] },
  { id: 'c', title: 'C', dependencies: ['b'] },
  { id: 'd', title: 'D' },
];
const CONFIG = { models: { provider: 'simulated' as const }, checkpoints: { every_n_tasks: 0 } };

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

async function open(home: string): Promise<Orchestrator> {
  const orchestrator = await createOrchestrator({
    home,
    loaded: testConfig(home, CONFIG),
    providers: () => createScriptedProvider(),
    retryBaseMs: 1,
  });
  cleanups.push(() => orchestrator.close(0));
  return orchestrator;
}

/** The run's document as the journal alone makes it: what the saved document must agree with. */
async function journalFold(home: string, runId: string): Promise<KeptRunDocument> {
  const events = await readJournal(home, runId);
  return rebuildRunDocument(runId, {
    base: undefined,
    events: (async function* () {
      for (const event of events) yield await Promise.resolve(event);
    })(),
    readCheckpoint: async (id) =>
      JSON.parse(
        await readFile(join(home, 'runs', runId, 'checkpoints', `${id}.json`), 'utf8'),
      ) as RunDocument,
  });
}

const statuses = (tasks: readonly { id: string; status: string }[]) =>
  Object.fromEntries(tasks.map((t) => [t.id, t.status]));

describe('a rollback or a checkpoint cut short by a crash', () => {
  it('leaves the run before it or after it, whatever event the daemon died after', async () => {
    const { home, remove } = await tempHome('orc-rollback-crash-');
    cleanups.push(remove);
    let orchestrator = await open(home);
    const { id: runId } = await orchestrator.startRun({ tasks: TASKS });
    expect((await orchestrator.waitForRun(runId)).status).toBe('completed');
    const [planned] = await orchestrator.listCheckpoints(runId);
    await orchestrator.close(0);
    // What is on disk before the rollback: the document and the index a crash during it would leave.
    const runDir = join(home, 'runs', runId);
    const documentBefore = await readFile(join(runDir, 'state.json'), 'utf8');
    const indexBefore = await readFile(join(home, 'runs', 'index.json'), 'utf8');
    const lastBefore = (JSON.parse(documentBefore) as RunDocument).lastEventId;

    orchestrator = await open(home);
    await orchestrator.rollback(runId, planned!.id, 'full');
    await orchestrator.close(0);
    const journal = (await readFile(join(runDir, 'events.jsonl'), 'utf8')).split('\n').filter(Boolean);
    const events = journal.map((line) => JSON.parse(line) as OrcEvent);
    const started = events.findIndex((e) => e.type === 'run.rollback_started');
    const checkpointed = events.findIndex(
      (e) => e.type === 'checkpoint.created' && e.checkpoint.reason === 'before-rollback',
    );
    expect(started).toBeGreaterThan(checkpointed);
    expect(events.some((e) => e.type === 'run.rolled_back')).toBe(true);
    // Cut at each of them: the checkpoint, the rollback's start, its pause, its end, the rescheduling.
    expect(journal.length - lastBefore).toBeGreaterThan(6);

    // The daemon killed after each event of the rollback, with the document and index from before it.
    for (let cut = lastBefore; cut <= journal.length; cut++) {
      const copy = await mkdtemp(join(tmpdir(), 'orc-rollback-cut-'));
      cleanups.push(() => rm(copy, { recursive: true, force: true }));
      await cp(home, copy, { recursive: true });
      const copyDir = join(copy, 'runs', runId);
      await writeFile(join(copyDir, 'state.json'), documentBefore);
      await writeFile(join(copy, 'runs', 'index.json'), indexBefore);
      await writeFile(
        join(copyDir, 'events.jsonl'),
        journal
          .slice(0, cut)
          .map((l) => `${l}\n`)
          .join(''),
      );
      const after = cut > started;
      const label = `killed after event ${cut} (${events[cut - 1]?.type})`;

      const restored = await open(copy);
      // A rollback begun is finished by the restored run; then it waits for a person.
      await eventually(async () => {
        const run = await restored.getRun(runId);
        return !(run.pauseMessage ?? '').startsWith('rolling back');
      }, `${label}: the rollback finished`);
      const view = await restored.getRun(runId, { full: true });
      if (after) {
        expect(view.status, label).toBe('paused');
        expect(
          view.tasks.every((t) => t.status !== 'done'),
          label,
        ).toBe(true);
      } else {
        expect(view.status, label).toBe('completed');
        expect(
          view.tasks.every((t) => t.status === 'done'),
          label,
        ).toBe(true);
      }
      // The checkpoint before the rollback exists once its event is in, and only then.
      expect((await restored.listCheckpoints(runId)).length, label).toBe(cut > checkpointed ? 2 : 1);
      // A client folding the journal from its first event holds what runs.get answers.
      let full!: RunView;
      let told!: OrcEvent[];
      await eventually(async () => {
        full = await restored.getRun(runId, { full: true });
        told = await readJournal(copy, runId);
        return told.at(-1)?.id === full.lastEventId;
      }, `${label}: the journal to hold every event of the view`);
      expect(onTheWire({ ...foldJournal(runId, told), forecast: undefined }), label).toEqual(
        onTheWire({ ...full, forecast: undefined }),
      );
      await restored.close(0);

      const replayed = await readJournal(copy, runId);
      expect(replayed.filter((e) => e.type === 'run.rolled_back').length, label).toBe(after ? 1 : 0);
      expect(
        replayed.every((e, i) => e.id === i + 1),
        label,
      ).toBe(true);
      // The document written on close and the journal agree.
      // Read as the daemon reads it: settled tasks from the settled segment.
      const saved = (await readRunFolder(copyDir, runId))!;
      expect(statuses(saved.tasks), label).toEqual(statuses((await journalFold(copy, runId)).tasks));
      expect(saved.lastEventId, label).toBe(replayed.at(-1)!.id);
    }
  });
});
