import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyEvents, statePaths, type OrcEvent, type RunView } from '@orc/shared';
import { TRPCClientError } from '@trpc/client';
import pino from 'pino';
import { afterEach, expect, it } from 'vitest';
import {
  createScriptedProvider,
  eventually,
  onTheWire,
  openTestEngine,
  type TestEngine,
} from '@orc/test-support';
import { createClient, type OrcClient } from '../client/index.js';
import { writeDaemonInfo } from '../daemon/daemon-info.js';
import type { AppRouter } from './app.router.js';
import { type RpcServer, startRpcServer } from './server.js';

/**
 * The plan-edit procedures over the real server on a free port, with two real clients: one edits, the
 * other only follows the run's events and sees every edit as it happens.
 */

const TOKEN = 'b'.repeat(64);
let home: string | undefined;
let engine: TestEngine | undefined;
let server: RpcServer | undefined;
const clients: OrcClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await server?.close();
  await engine?.close();
  if (home) await rm(home, { recursive: true, force: true });
  engine = server = home = undefined;
});

function refusal(error: unknown) {
  expect(error).toBeInstanceOf(TRPCClientError);
  const e = error as TRPCClientError<AppRouter>;
  return { code: e.data?.code, orcCode: e.data?.orcCode, message: e.message };
}

it('adds, edits, cancels and removes tasks over the wire; refusals are CONFLICT or NOT_FOUND; a follower sees each edit', async () => {
  home = await mkdtemp(join(tmpdir(), 'orc-rpc-edit-'));
  const provider = createScriptedProvider();
  provider.hold();
  engine = await openTestEngine({ home, provider, config: { execution: { max_workers: 1 } } });
  server = await startRpcServer({
    orchestrator: engine.orchestrator,
    token: TOKEN,
    logger: pino({ level: 'silent' }),
    daemon: { pid: process.pid, version: 'test', startedAt: new Date().toISOString() },
    requestStop: () => undefined,
  });
  writeDaemonInfo(statePaths(home), server.info);
  await writeFile(statePaths(home).token, `${TOKEN}\n`, { mode: 0o600 });
  const editor = await createClient({ home, env: {} });
  const follower = await createClient({ home, env: {} });
  clients.push(editor, follower);

  const run = await editor.trpc.runs.start.mutate({
    tasks: [
      { id: 'a', title: 'A' },
      { id: 'b', title: 'B', dependencies: ['a'] },
    ],
  });
  await provider.whenInFlight(1);
  let view: RunView = await follower.trpc.runs.get.query({ runId: run.id, full: true });
  const seen: OrcEvent[] = [];
  const subscription = follower.trpc.runs.events.subscribe(
    { runId: run.id, lastEventId: view.lastEventId },
    {
      onData: ({ data }) => {
        seen.push(data);
        view = applyEvents(view, [data]);
      },
    },
  );

  const added = await editor.trpc.runs.addTasks.mutate({
    runId: run.id,
    tasks: [{ id: 'c', title: 'C', dependencies: ['b'], priority: 'high' }],
  });
  expect(added.added).toEqual(['c']);
  await editor.trpc.runs.updateTask.mutate({
    runId: run.id,
    taskId: 'b',
    changes: { description: 'B, explained', priority: 'low' },
  });
  // Refusals change nothing and say why, with the code the CLI turns into its exit code.
  const cycle = refusal(
    await editor.trpc.runs.updateTask
      .mutate({ runId: run.id, taskId: 'b', changes: { dependencies: ['a', 'c'] } })
      .catch((e: unknown) => e),
  );
  expect(cycle).toMatchObject({ code: 'CONFLICT', orcCode: 'INVALID_STATE' });
  expect(cycle.message).toContain('cycle b -> c -> b');
  const unknown = refusal(
    await editor.trpc.runs.addTasks
      .mutate({ runId: run.id, tasks: [{ title: 'D', dependencies: ['nope'] }] })
      .catch((e: unknown) => e),
  );
  expect(unknown).toMatchObject({ code: 'NOT_FOUND', orcCode: 'TASK_NOT_FOUND' });
  const withDependents = refusal(
    await editor.trpc.runs.removeTask.mutate({ runId: run.id, taskId: 'b' }).catch((e: unknown) => e),
  );
  expect(withDependents).toMatchObject({ code: 'CONFLICT' });
  expect(withDependents.message).toContain('has dependents c');
  const empty = refusal(
    await editor.trpc.runs.updateTask
      .mutate({ runId: run.id, taskId: 'b', changes: {} })
      .catch((e: unknown) => e),
  );
  expect(empty).toMatchObject({ code: 'BAD_REQUEST' });
  expect(empty.message).toContain('nothing to change');

  const cancelled = await editor.trpc.tasks.cancel.mutate({ runId: run.id, taskId: 'a' });
  expect(cancelled.run.taskCounts['cancelled']).toBe(1);
  // Everything left waits for the task a person holds: the run waits; removing it lets the run go on.
  provider.release();
  await eventually(
    async () => (await editor.trpc.runs.get.query({ runId: run.id })).pauseReason === 'held',
    'the run to wait for the held task',
  );
  await editor.trpc.runs.removeTask.mutate({ runId: run.id, taskId: 'a', dependents: 'keep' });

  // The follower saw every edit live, and its folded view is what runs.get answers.
  await eventually(
    () => seen.some((e) => e.type === 'plan.tasks_removed'),
    'the follower to see the removal',
  );
  expect(seen.map((e) => e.type)).toEqual(
    expect.arrayContaining([
      'plan.tasks_added',
      'task.edited',
      'task.status',
      'plan.tasks_removed',
    ]) as string[],
  );
  await eventually(async () => {
    const now = await editor.trpc.runs.get.query({ runId: run.id, full: true });
    return now.status === 'completed' && view.lastEventId === now.lastEventId;
  }, 'the run to complete and the follower to catch up');
  subscription.unsubscribe();
  const full = await editor.trpc.runs.get.query({ runId: run.id, full: true });
  expect(onTheWire({ ...view, forecast: undefined })).toEqual(onTheWire({ ...full, forecast: undefined }));
  expect(full.tasks.map((t) => [t.id, t.status, t.priority, t.dependencies])).toEqual([
    ['b', 'done', 'low', []],
    ['c', 'done', 'high', ['b']],
  ]);
});
