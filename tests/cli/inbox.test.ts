import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InboxEvent, InboxItem, InboxList, RunSummary } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { FAST_SIM, Sandbox, waitFor } from '../daemon/harness.js';

/**
 * The inbox as a user meets it: the built `orc` and a real daemon, runs on the simulated model whose plans
 * wait for approval, and a real local HTTP server as the webhook.
 */
let box: Sandbox;
let hook:
  { server: Server; url: string; bodies: { text: string; content: string }[]; status: number } | undefined;

afterEach(async () => {
  await box.cleanup();
  if (hook) {
    hook.server.closeAllConnections();
    await new Promise((resolve) => hook!.server.close(resolve));
    hook = undefined;
  }
});

async function startHook(): Promise<NonNullable<typeof hook>> {
  const state = { bodies: [] as { text: string; content: string }[], status: 200 };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      state.bodies.push(JSON.parse(body) as { text: string; content: string });
      res.writeHead(state.status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  hook = Object.assign(state, { server, url: `http://127.0.0.1:${port}/services/T01/B02/HOOKSECRET42` });
  return hook;
}

const APPROVE = { ...FAST_SIM, execution: { approve_plan: true } };

/** Starts a run whose plan waits for approval; its summary. */
async function planned(goal = 'Write two short poems'): Promise<RunSummary> {
  const started = await box.orc(['run', goal, '--json']);
  // Not done: exit 6, and one line on stderr with how to go on (stdout stays the JSON document).
  expect(started.code, started.stderr).toBe(6);
  const summary = JSON.parse(started.stdout) as RunSummary;
  expect(summary.status).toBe('awaiting_approval');
  expect(started.stderr).toMatch(
    new RegExp(
      `^orc: run ${summary.id} is waiting for its plan to be approved, not completed; it needs you: .*\\(orc answer \\S+ approve\\|edit\\|refuse\\)\n$`,
    ),
  );
  return summary;
}

async function inbox(...args: string[]): Promise<InboxList> {
  const listed = await box.orc(['inbox', '--json', ...args]);
  expect(listed.code, listed.stderr).toBe(0);
  return JSON.parse(listed.stdout) as InboxList;
}

describe('orc inbox and orc answer (built CLI, real daemon)', () => {
  it('answers from the shell: a wrong choice exits 2 naming the choices, an unknown or closed item exits 3', async () => {
    box = await Sandbox.create();
    await box.writeConfig(APPROVE);
    const run = await planned();
    const { items } = await inbox();
    expect(items).toHaveLength(1);
    const item = items[0]!;
    expect(item).toMatchObject({ id: 'i1', type: 'plan_approval', runId: run.id, status: 'open' });
    const human = await box.orc(['inbox']);
    expect(human.stdout).toContain(`i1   plan_approval ${run.id}`);
    expect(human.stdout).toContain('orc answer i1 approve|edit|refuse');

    const wrong = await box.orc(['answer', 'i1', 'yes']);
    expect(wrong).toMatchObject({ code: 2, stdout: '' });
    expect(wrong.stderr).toBe('orc: inbox item i1 (plan_approval) takes approve, edit, refuse; got "yes"\n');
    const noNote = await box.orc(['answer', 'i1', 'edit']);
    expect(noNote.code).toBe(2);
    expect(noNote.stderr).toBe(
      'orc: edit needs a note saying what to change: orc answer i1 edit --note "…"\n',
    );
    const unknown = await box.orc(['answer', 'i99', 'approve']);
    expect(unknown).toMatchObject({ code: 3, stdout: '' });
    expect(unknown.stderr).toBe('orc: there is no inbox item "i99"; orc inbox lists the open ones\n');
    // Nothing changed: the plan still waits.
    expect((await inbox()).items).toEqual([item]);

    const approved = await box.orc(['answer', 'i1', 'approve', '--json']);
    expect(approved.code, approved.stderr).toBe(0);
    expect(JSON.parse(approved.stdout)).toMatchObject({
      id: 'i1',
      status: 'closed',
      closed: { choice: 'approve' },
    });
    const closed = await box.orc(['answer', 'i1', 'approve']);
    expect(closed.code).toBe(3);
    expect(closed.stderr).toMatch(/^orc: inbox item i1 is closed: answered approve at \S+\n$/);

    const shown = await waitFor(async () => {
      const result = await box.orc(['show', run.id, '--json']);
      const view = JSON.parse(result.stdout) as RunSummary & { inbox: { items: InboxItem[] } };
      return view.status === 'completed' ? view : undefined;
    });
    expect(shown.inbox.items).toEqual([]);
    expect((await box.orc(['inbox'])).stdout).toBe(
      'nothing waits for you (orc inbox --all shows what did)\n',
    );
    expect((await inbox('--all')).items.map((i) => [i.id, i.closed?.choice])).toEqual([['i1', 'approve']]);
  });

  it('an item outlives a killed daemon: the same id, still open, answered after the restart', async () => {
    box = await Sandbox.create();
    await box.writeConfig(APPROVE);
    const run = await planned();
    const before = (await inbox()).items;
    process.kill((await box.daemonPid())!, 'SIGKILL');
    box.pids.clear();

    const after = (await inbox()).items;
    expect(after).toEqual(before);
    const human = await box.orc(['show', run.id]);
    expect(human.stdout).toContain(`run ${run.id} awaiting approval`);
    expect(human.stdout).toContain('needs you: i1 plan_approval:');
    expect((await box.orc(['answer', 'i1', 'approve'])).code).toBe(0);
    await waitFor(async () => {
      const shown = JSON.parse((await box.orc(['show', run.id, '--json'])).stdout) as RunSummary;
      return shown.status === 'completed' ? true : undefined;
    });
  });

  it('a webhook gets what waits and every run end, with a text field; its secret is never in the log', async () => {
    box = await Sandbox.create();
    const { url, bodies } = await startHook();
    await box.writeConfig({ ...APPROVE, notifications: { webhook: url } });
    const run = await planned();
    await waitFor(() => Promise.resolve(bodies.length === 1 ? true : undefined));
    expect(bodies[0]!.text).toContain(`run ${run.id} planned`);
    expect(bodies[0]!.text).toContain('orc answer i1 approve|edit|refuse');
    expect(bodies[0]!.content).toBe(bodies[0]!.text);
    expect((await box.orc(['answer', 'i1', 'approve'])).code).toBe(0);
    await waitFor(() => Promise.resolve(bodies.length === 2 ? true : undefined));
    expect(bodies[1]!.text).toMatch(
      new RegExp(`^run ${run.id} completed \\(\\d+/\\d+ tasks done, \\$\\d+\\.\\d+\\) \\[SIMULATED\\]`),
    );

    const doctor = await box.orc(['doctor', '--json']);
    const checks = (
      JSON.parse(doctor.stdout) as { checks: { name: string; status: string; detail: string }[] }
    ).checks;
    const notify = checks.find((check) => check.name === 'notify')!;
    expect(notify.status).toBe('ok');
    expect(notify.detail).toBe(`webhook ${new URL(url).origin}/[redacted]: 2 delivered, 0 failed`);
    expect(doctor.stdout).not.toContain('HOOKSECRET42');
    expect((await box.orc(['daemon', 'stop'])).code).toBe(0);
    expect(await readFile(join(box.home, 'daemon.log'), 'utf8')).not.toContain('HOOKSECRET42');
  });

  it('a webhook that fails is retried, logged and shown by orc doctor; the run goes on all the same', async () => {
    box = await Sandbox.create();
    const webhook = await startHook();
    webhook.status = 500;
    await box.writeConfig({ ...FAST_SIM, notifications: { webhook: webhook.url } });
    const ran = await box.orc(['run', 'Write a haiku', '--json']);
    expect(ran.code, ran.stderr).toBe(0);
    expect((JSON.parse(ran.stdout) as RunSummary).status).toBe('completed');
    await waitFor(() => Promise.resolve(webhook.bodies.length >= 2 ? true : undefined));
    const doctor = await box.orc(['doctor']);
    expect(doctor.code, doctor.stderr).toBe(0);
    expect(doctor.stdout).toMatch(
      new RegExp(
        `warn  notify     webhook http://127\\.0\\.0\\.1:\\d+/\\[redacted\\]: 0 delivered, 0 failed, 1 pending; last failure \\S+: http://127\\.0\\.0\\.1:\\d+/\\[redacted\\] answered 500`,
      ),
    );
    expect(doctor.stdout).not.toContain('HOOKSECRET42');
    await box.orc(['daemon', 'stop']);
    const log = await readFile(join(box.home, 'daemon.log'), 'utf8');
    expect(log).toContain('a notification was not delivered; retrying');
    expect(log).not.toContain('HOOKSECRET42');
  });

  it('inbox.events replays exactly what a client missed and goes on live', async () => {
    box = await Sandbox.create();
    await box.writeConfig(APPROVE);
    await box.startDaemon();
    const client = await box.client();
    const seen: InboxEvent[] = [];
    const first = client.trpc.inbox.events.subscribe(
      { lastEventId: null },
      { onData: ({ data }) => seen.push(data), onError: () => undefined },
    );
    await planned('first goal');
    await waitFor(() => Promise.resolve(seen.length >= 2 ? true : undefined));
    first.unsubscribe();
    expect(seen.map((e) => e.type)).toEqual(['inbox.opened', 'inbox.notified']);

    // Meanwhile: a second plan waits, and the first is approved.
    await planned('second goal');
    expect((await box.orc(['answer', 'i1', 'approve'])).code).toBe(0);
    const missed: InboxEvent[] = [];
    const again = client.trpc.inbox.events.subscribe(
      { lastEventId: String(seen.at(-1)!.id) },
      { onData: ({ data }) => missed.push(data), onError: () => undefined },
    );
    await waitFor(() => Promise.resolve(missed.length >= 3 ? true : undefined));
    again.unsubscribe();
    expect(missed.map((e) => [e.id, e.type, e.item.id])).toEqual([
      [3, 'inbox.opened', 'i2'],
      [4, 'inbox.notified', 'i2'],
      [5, 'inbox.closed', 'i1'],
    ]);
  });
});
