import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InboxItem, RunView } from '@orc/shared';
import { startFakeAnthropicServer, type FakeAnthropicServer } from '@orc/test-support';
import { afterEach, expect, it } from 'vitest';
import { Sandbox, waitFor } from '../daemon/harness.js';

/**
 * A task nothing waits for, cancelled with `orc task cancel` as a new user did (built CLI, real daemon):
 * the run waits for the person as the cancel says, paused (held) with an inbox item and no final review,
 * and `orc skip` lets it finish. It used to fail the run once the rest were done, after a paid review.
 */
let box: Sandbox;
let server: FakeAnthropicServer | undefined;
afterEach(async () => {
  await box.cleanup();
  await server?.close();
  server = undefined;
});

const SLOW_TITLE = 'First, slow';

it('a cancelled leaf task holds the run (paused held, a run_held item, no final review); orc skip finishes it', async () => {
  // The first task's first worker call never answers by itself, so the leaf that waits for it is cancelled
  // before it runs however loaded the machine; that task is then cancelled and retried, and answers at once.
  let slowCalls = 0;
  server = await startFakeAnthropicServer({
    latencyMs: (body) =>
      String(body.model).includes('sonnet') &&
      JSON.stringify(body.messages).includes(SLOW_TITLE) &&
      ++slowCalls === 1
        ? 600_000
        : 50,
  });
  box = await Sandbox.create({ ANTHROPIC_API_KEY: 'sk-ant-test-0123456789abcdef' });
  await box.writeConfig({ models: { provider: 'anthropic', base_url: server.url } });
  await writeFile(
    join(box.home, 'tasks.json'),
    JSON.stringify([
      { id: 'a', title: SLOW_TITLE },
      { id: 'b', title: 'Second', dependencies: ['a'] },
      { id: 'k5', title: 'Aside', dependencies: ['a'] },
    ]),
  );
  const started = await box.orc(['run', 'tasks.json', '--detach']);
  expect(started.code, started.stderr).toBe(0);
  const runId = started.stdout.trim();
  const show = async (): Promise<RunView> => {
    const shown = await box.orc(['show', runId, '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    return JSON.parse(shown.stdout) as RunView;
  };

  await waitFor(async () =>
    (await show()).tasks.find((t) => t.id === 'a')?.status === 'running' ? true : undefined,
  );
  const cancelled = await box.orc(['task', 'cancel', runId, 'k5']);
  expect(cancelled.code, cancelled.stderr).toBe(0);
  expect(cancelled.stdout).toContain(`or orc skip ${runId} k5`);
  expect((await box.orc(['task', 'cancel', runId, 'a'])).code).toBe(0);
  const retried = await box.orc(['retry', runId, 'a']);
  expect(retried.code, retried.stderr).toBe(0);

  const held = await waitFor(async () => {
    const view = await show();
    return view.status === 'paused' ? view : undefined;
  });
  expect(held).toMatchObject({ pauseReason: 'held' });
  expect(held.pauseMessage).toContain('task k5 was cancelled by a person and the run waits for it');
  expect(held.tasks.map((t) => [t.id, t.status])).toEqual([
    ['a', 'done'],
    ['b', 'done'],
    ['k5', 'cancelled'],
  ]);
  expect(held.finalReview).toBeUndefined();
  const inbox = await box.orc(['inbox', '--json']);
  expect(inbox.code, inbox.stderr).toBe(0);
  const items = (JSON.parse(inbox.stdout) as { items: InboxItem[] }).items;
  expect(items.map((item) => [item.type, item.runId, item.choices.map((c) => c.id).join()])).toEqual([
    ['run_held', runId, 'retry,skip,cancel'],
  ]);

  const skipped = await box.orc(['skip', runId, 'k5']);
  expect(skipped.code, skipped.stderr).toBe(0);
  const done = await waitFor(async () => {
    const view = await show();
    return view.status === 'completed' ? view : undefined;
  });
  expect(done.tasks.find((t) => t.id === 'k5')?.status).toBe('skipped');
  expect(done.finalReview).toBeDefined();
});
