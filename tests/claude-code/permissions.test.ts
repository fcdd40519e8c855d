import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InboxItem, RunSummary, RunWaits } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { ClaudeSandbox, filesAt, waitUntil } from './claude-sandbox.js';

/**
 * Permission requests with the real Claude Code (the Agent SDK's bundled binary, offline against the
 * stand-in model, which scripts a Bash call the permission mode does not allow): the agent waits in the
 * SDK's canUseTool while the request is an inbox item, everything else goes on, and the answer (or its
 * absence) is what the agent gets and what the attempt records.
 */
let sb: ClaudeSandbox | undefined;
afterEach(async () => {
  await sb?.cleanup();
  sb = undefined;
});

/** A sandbox whose daemon pushes every notification to a real command that appends it to a file. */
async function sandbox(graceSeconds: number): Promise<{ box: ClaudeSandbox; pushes: string }> {
  const box = await ClaudeSandbox.create();
  const pushes = join(box.home, 'pushes.jsonl');
  await box.box.writeConfig({
    notifications: { command: `cat >> '${pushes}'`, grace_seconds: graceSeconds },
  });
  sb = box;
  return { box, pushes };
}

function pushedKinds(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (JSON.parse(line) as { kind: string }).kind);
}

async function openItems(box: ClaudeSandbox): Promise<InboxItem[]> {
  return (await (await box.client()).trpc.inbox.list.query()).items;
}

async function waitForItems(box: ClaudeSandbox, count: number): Promise<InboxItem[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const items = await openItems(box);
    if (items.length >= count) return items;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} inbox items`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Runs the agent's Bash command after asking, then writes a file either way. */
const ASKS = (name: string) => [
  `BASH curl -s http://127.0.0.1:9/ ; touch ${name}.ran`,
  `WRITE ${name}.done: went on\\n`,
];

describe('permission requests through the inbox, with the real Claude Code (built CLI, real daemon)', () => {
  it('the agent waits for a person while every other worker and run goes on; allowed, its command runs', async () => {
    const { box, pushes } = await sandbox(1);
    const repo = await box.repo();
    const cwd = await box.runFolder(
      [
        { id: 'fetch', lines: ASKS('fetch') },
        { id: 'other', lines: ['WRITE other.txt: meanwhile\\n'] },
      ],
      { workers: 2 },
    );
    const runId = await box.detach(cwd, repo);
    const [item] = await waitForItems(box, 1);
    expect(item).toMatchObject({ type: 'permission', runId, taskId: 'fetch', attempt: 1, status: 'open' });
    expect(item!.question).toBe(
      'worker 0 on task fetch asks to use Bash: curl -s http://127.0.0.1:9/ ; touch fetch.ran',
    );
    expect(item!.detail).toContain('curl -s http://127.0.0.1:9/ ; touch fetch.ran');
    expect(item!.choices.map((c) => c.id)).toEqual(['allow', 'always', 'deny']);
    expect(item!.expiresAt).toBeDefined();

    // While it waits: the run's other task is done, and another run starts and finishes.
    await box.waitForRun(runId, (run) => run.tasks.find((t) => t.id === 'other')!.status === 'done', 60_000);
    const otherRepo = await box.repo();
    const otherCwd = await box.runFolder([{ id: 'solo', lines: ['WRITE solo.txt: solo\\n'] }]);
    const other = await box.run(otherCwd, otherRepo);
    expect(other.code, other.stderr).toBe(0);
    expect((JSON.parse(other.stdout) as RunSummary).status).toBe('completed');
    expect((await openItems(box)).map((i) => i.id)).toEqual([item!.id]);
    // Past the grace, it was pushed.
    await waitUntil('the permission is pushed', () => pushedKinds(pushes).includes('permission'));

    const answered = await box.orc(['answer', item!.id, 'allow']);
    expect(answered.code, answered.stderr).toBe(0);
    expect(answered.stdout.trim()).toBe(`${item!.id} answered allow: allow this call (${item!.question})`);
    const run = await box.waitForRun(runId, (r) => r.status === 'completed', 60_000);
    const attempt = run.tasks.find((t) => t.id === 'fetch')!.attempts[0]!;
    expect(attempt.refusals).toBeUndefined();
    expect(await filesAt(repo, `orc/${runId}`)).toMatchObject({ 'fetch.ran': '', 'fetch.done': 'went on\n' });

    // What the run waited is counted and shown.
    const shown = await box.orc(['show', runId, '--json']);
    const waits = (JSON.parse(shown.stdout) as { inbox: { waits: RunWaits } }).inbox.waits;
    expect(waits.permissions).toBe(1);
    expect(waits.agentMs).toBeGreaterThan(1_000);
    expect((await box.orc(['show', runId])).stdout).toMatch(
      /waited for you: agents waited \d+\.\d agent-minutes on 1 permission request/,
    );
    expect(await openItems(box)).toEqual([]);
  }, 120_000);

  it('denied with a note, the refusal and the note are on the attempt; unanswered past the timeout, it is denied', async () => {
    const { box } = await sandbox(30);
    const repo = await box.repo();
    const cwd = await box.runFolder(
      [
        { id: 'asked', lines: ASKS('asked') },
        { id: 'ignored', lines: ASKS('ignored') },
      ],
      { workers: 2, claude: { permission_timeout: 4 } },
    );
    const runId = await box.detach(cwd, repo);
    const items = await waitForItems(box, 2);
    const asked = items.find((i) => i.taskId === 'asked')!;
    const denied = await box.orc(['answer', asked.id, 'deny', '--note', 'no network in the tests']);
    expect(denied.code, denied.stderr).toBe(0);

    const run = await box.waitForRun(runId, (r) => r.status === 'completed', 60_000);
    const refusal = (id: string) => run.tasks.find((t) => t.id === id)!.attempts[0]!.refusals;
    expect(refusal('asked')).toEqual([
      expect.objectContaining({ tool: 'Bash', reason: 'denied by a person: no network in the tests' }),
    ]);
    expect(refusal('ignored')).toEqual([
      expect.objectContaining({
        tool: 'Bash',
        reason: 'nobody answered within 4s (claude_cli.permission_timeout)',
      }),
    ]);
    // The agents went on without the command.
    const files = await filesAt(repo, `orc/${runId}`);
    expect(files).toMatchObject({ 'asked.done': 'went on\n', 'ignored.done': 'went on\n' });
    expect(files['asked.ran']).toBeUndefined();
    expect(files['ignored.ran']).toBeUndefined();

    const closed = (await (await box.client()).trpc.inbox.list.query({ all: true })).items;
    // Listed in the order they opened: which of the two agents asked first is up to them.
    const byTask = [...closed].sort((a, b) => (a.taskId ?? '').localeCompare(b.taskId ?? ''));
    expect(byTask.map((i) => [i.taskId, i.closed?.reason, i.closed?.choice])).toEqual([
      ['asked', 'answered', 'deny'],
      ['ignored', 'expired', undefined],
    ]);
    // A closed item cannot be answered again: exit 3, one line saying how it closed.
    const late = await box.orc(['answer', asked.id, 'allow']);
    expect(late.code).toBe(3);
    expect(late.stderr).toMatch(
      new RegExp(`^orc: inbox item ${asked.id} is closed: answered deny at \\S+\\n$`),
    );
  }, 120_000);

  it('a permission answered within the grace pushes nothing (the run’s end is pushed, so the command works)', async () => {
    const { box, pushes } = await sandbox(60);
    const repo = await box.repo();
    const cwd = await box.runFolder([{ id: 'quick', lines: ASKS('quick') }]);
    const runId = await box.detach(cwd, repo);
    const [item] = await waitForItems(box, 1);
    expect((await box.orc(['answer', item!.id, 'allow'])).code).toBe(0);
    await box.waitForRun(runId, (r) => r.status === 'completed', 60_000);
    await waitUntil('the run end is pushed', () => pushedKinds(pushes).includes('run_completed'));
    expect(pushedKinds(pushes)).toEqual(['run_completed']);
    const events = (await (await box.client()).trpc.inbox.list.query({ all: true })).items;
    expect(events[0]!.notifiedAt).toBeUndefined();
  }, 120_000);
});
