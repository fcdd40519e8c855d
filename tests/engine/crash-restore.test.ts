import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createOrchestrator, type Orchestrator } from '@orc/daemon';
import {
  eventually,
  foldJournal,
  onTheWire,
  randomDag,
  readJournal,
  tempHome,
  testConfig,
} from '@orc/test-support';
import type { ConfigInput, OrcEvent } from '@orc/shared';
import { afterEach, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');
const DAEMON_DIST = join(ROOT, 'packages', 'daemon', 'dist', 'index.js');
const SHARED_DIST = join(ROOT, 'packages', 'shared', 'dist', 'index.js');

/** Slow enough to be killed mid-run, fast enough to finish in a second or two. */
const CONFIG: ConfigInput = {
  models: { provider: 'simulated' },
  simulated: { latency_ms: { min: 15, max: 40 } },
  execution: { max_workers: 4 },
};

let child: ChildProcess | undefined;
let orchestrator: Orchestrator | undefined;
let remove: (() => Promise<void>) | undefined;
afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await orchestrator?.close(0);
  await remove?.();
  child = orchestrator = remove = undefined;
});

/** The child: the built engine on the temp home, one run of the given tasks, then it waits to be killed. */
const CHILD_SCRIPT = `
import { createOrchestrator } from ${JSON.stringify(pathToFileURL(DAEMON_DIST).href)};
import { loadConfig } from ${JSON.stringify(pathToFileURL(SHARED_DIST).href)};
const [home, config, tasks] = process.argv.slice(2);
const loaded = loadConfig({ env: {}, cwd: home, skipUserConfig: true, overrides: JSON.parse(config) });
const orchestrator = await createOrchestrator({ home, loaded, retryBaseMs: 1 });
const run = await orchestrator.startRun({ tasks: JSON.parse(tasks) });
process.stdout.write(run.id + '\\n');
setInterval(() => {}, 60_000);
`;

it('a run killed with SIGKILL mid-run finishes after a restore without redoing finished tasks', async () => {
  if (!existsSync(DAEMON_DIST) || !existsSync(SHARED_DIST))
    throw new Error(`${DAEMON_DIST} is missing: build first with npx tsc -b`);
  const temp = await tempHome('orc-crash-');
  remove = temp.remove;
  const { home } = temp;
  const script = join(home, 'child.mjs');
  await writeFile(script, CHILD_SCRIPT);
  const tasks = randomDag(42, 40, { maxDeps: 2, window: 6 });

  child = spawn(process.execPath, [script, home, JSON.stringify(CONFIG), JSON.stringify(tasks)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env['PATH'], ORC_HOME: home, HOME: home },
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const runId = await new Promise<string>((done, fail) => {
    child!.stdout!.once('data', (chunk: Buffer) => done(chunk.toString().trim()));
    child!.once('exit', (code) =>
      fail(new Error(`the child exited (${code}) before starting a run: ${stderr}`)),
    );
  });

  const completed = (events: OrcEvent[]) => events.filter((e) => e.type === 'task.completed').length;
  await eventually(
    async () => completed(await readJournal(home, runId)) >= 8,
    'eight tasks done in the child',
    15_000,
  );
  child.kill('SIGKILL');
  await new Promise((done) =>
    child!.exitCode !== null || child!.signalCode !== null ? done(null) : child!.once('exit', done),
  );

  const before = await readJournal(home, runId);
  const doneBefore = new Set(before.flatMap((e) => (e.type === 'task.completed' ? [e.taskId] : [])));
  const lastBefore = before.at(-1)!.id;
  expect(doneBefore.size).toBeGreaterThanOrEqual(8);
  expect(doneBefore.size, 'the child finished before it was killed; slow it down').toBeLessThan(40);

  orchestrator = await createOrchestrator({ home, loaded: testConfig(home, CONFIG), retryBaseMs: 1 });
  expect(orchestrator.listRuns().map((r) => r.id)).toEqual([runId]);
  const summary = await orchestrator.waitForRun(runId);
  expect(summary.status).toBe('completed');
  expect(summary.taskCounts).toEqual({ done: 40 });

  const after = await readJournal(home, runId);
  for (let i = 1; i < after.length; i++) expect(after[i]!.id).toBeGreaterThan(after[i - 1]!.id);
  // What was durable before the kill is still there, unchanged.
  expect(after.slice(0, before.length)).toEqual(before);
  const resumed = after.filter((e) => e.id > lastBefore);
  expect(resumed.some((e) => e.type === 'run.restored')).toBe(true);
  const rerun = resumed.flatMap((e) =>
    e.type === 'task.assigned' && doneBefore.has(e.taskId) ? [e.taskId] : [],
  );
  expect(rerun, 'tasks done before the crash ran again').toEqual([]);
  const doneAfter = new Set(after.flatMap((e) => (e.type === 'task.completed' ? [e.taskId] : [])));
  expect(doneAfter.size).toBe(40);
  for (const task of tasks) {
    const assigned = after.filter((e) => e.type === 'task.assigned' && e.taskId === task.id).at(-1)!;
    for (const dep of task.dependencies ?? []) {
      const depDone = after.find((e) => e.type === 'task.completed' && e.taskId === dep)!;
      expect(depDone.id, `${task.id} ran before ${dep} was done`).toBeLessThan(assigned.id);
    }
  }
  // A client that folds the journal, the killed daemon's events and the restored one's, has the run
  // exactly as the daemon does.
  const view = await orchestrator.getRun(runId, { full: true });
  await eventually(
    async () => (await readJournal(home, runId)).at(-1)?.id === view.lastEventId,
    'the journal',
  );
  expect(onTheWire(foldJournal(runId, await readJournal(home, runId)))).toEqual(onTheWire(view));
});
