import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectScreenTools, ScreenSandbox } from './screen-sandbox.js';

/**
 * The inbox in the terminal UI as a user meets it: a real daemon, runs on the simulated model whose plans
 * wait for approval (`execution.approve_plan`), `orc attach` in a tmux pane. tmux flags a window whose
 * program rang the bell (`#{window_bell_flag}`, set for a session nobody is attached to), which is how
 * the bell is seen here.
 */
interface InboxJson {
  items: { id: string; type: string; runId: string }[];
}

describe('the inbox in orc attach under tmux', () => {
  let box: ScreenSandbox;
  const cli = (...args: string[]) => box.cli(...args);
  const status = (runId: string) => (JSON.parse(cli('show', runId, '--json')) as { status: string }).status;
  const inbox = () => JSON.parse(cli('inbox', '--json')) as InboxJson;
  const start = (goal: string) => box.start(goal);
  const until = async (what: string, test: () => boolean, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!test()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const attach = (runId: string) => box.attach(runId);
  const configure = (notifications: Record<string, unknown>) =>
    box.writeConfig({
      models: { provider: 'simulated' },
      execution: { max_workers: 2, approve_plan: true },
      simulated: { latency_ms: { min: 200, max: 400 } },
      notifications,
    });

  beforeEach(() => {
    box = new ScreenSandbox('inbox');
  });
  afterEach(() => box.cleanup());

  it('counts what waits in the header, answers it with i and a key, and rings the bell when an item opens', async () => {
    expectScreenTools();
    configure({});
    cli('daemon', 'start');
    const first = start('Write a short guide. Explain installation. Explain running.');
    await until('the plan to wait for approval', () => inbox().items.length === 1);

    const pane = attach(first);
    await pane.waitFor(
      (s) => /^run \S+ · .* 1 waiting · i /m.test(s) && s.includes('The plan waits for your approval'),
      'the header to count the waiting plan',
      15_000,
    );
    // The item was open before the screen came: nothing to ring for.
    expect(pane.format('#{window_bell_flag}')).toBe('0');

    pane.keys('i');
    const open = await pane.waitFor((s) => s.includes('─ Inbox ('), 'the inbox panel');
    expect(open).toContain('1 item waits for you, in this run');
    expect(open).toMatch(
      /i1 +plan_approval +\S+ +(<0\.1s|0\.\ds|\d+s) +run \S+ planned \d tasks: approve the plan\?/,
    );
    expect(open).toMatch(/a {2}approve: the workers start/);
    expect(open).toMatch(/e {2}have the manager change it .*\(asks for a note\)/);

    // A key that answers nothing says which keys do, and changes nothing.
    pane.keys('z');
    await pane.waitFor((s) => s.includes('z answers nothing here: i1 takes a, e, x'), 'the wrong key hint');
    expect(inbox().items.map((item) => item.id)).toEqual(['i1']);
    expect(status(first)).toBe('awaiting_approval');

    pane.keys('a');
    await pane.waitFor(
      (s) => !s.includes('─ Inbox (') && s.includes('i1 answered approve'),
      'the panel to close on the answer',
    );
    await pane.waitFor((s) => /^COMPLETED/m.test(s) && s.includes('100%'), 'the run to complete', 60_000);
    expect(status(first)).toBe('completed');
    expect(inbox().items).toEqual([]);
    expect(pane.capture()).not.toContain('waiting · i');

    // Another run's plan opens while the screen is attached: counted apart, and the bell rings.
    const second = start('Write a note. Explain one thing.');
    await pane.waitFor((s) => /^run \S+ · .* 1 waiting in other runs · i /m.test(s), 'the other run counted');
    await until('the bell', () => pane.format('#{window_bell_flag}') === '1', 5_000);

    pane.keys('i');
    await pane.waitFor(
      (s) => s.includes('1 item waits for you, in other runs') && s.includes(`run ${second} planned`),
      "the other run's plan in the panel",
    );
    pane.keys('x');
    await until('the refused run to be cancelled', () => status(second) === 'cancelled');
    await pane.waitFor((s) => !s.includes('─ Inbox (') && !s.includes('waiting'), 'an empty inbox');

    pane.keys('q');
    await pane.waitFor((s) => s.includes('[exit 0]'), 'orc attach to exit');
  }, 150_000);

  it("shows a capped task's raise with its figure, and its answer says the new cap", async () => {
    expectScreenTools();
    box.writeConfig({
      models: { provider: 'simulated' },
      execution: { max_workers: 1, max_task_cost_usd: 0.001 },
      // Calls slow enough that the answer's line is still among the events shown when it is looked for.
      simulated: { latency_ms: { min: 1000, max: 1200 } },
    });
    cli('daemon', 'start');
    const runId = start('Three tasks');
    await until('the capped task in the inbox', () => inbox().items.length === 1);
    const [item] = (
      JSON.parse(cli('inbox', '--json')) as { items: { id: string; choices: { budgetUsd?: number }[] }[] }
    ).items;
    const figure = item!.choices[0]!.budgetUsd!;
    const pane = attach(runId);
    await pane.waitFor((s) => /1 waiting · i /.test(s), 'the header to count the item');
    pane.keys('i');
    await pane.waitFor(
      (s) => s.includes(`r  raise the cost cap of a task to $${figure} and run it again`),
      'the raise with its figure',
    );
    pane.keys('r');
    await pane.waitFor(
      (s) => s.includes(`${item!.id} answered raise: the cost cap of a task is $${figure} now (was $0.001)`),
      'the answer saying the new cap',
    );
    await until('the run to complete', () => status(runId) === 'completed', 60_000);
    pane.keys('q');
    await pane.waitFor((s) => s.includes('[exit 0]'), 'orc attach to exit');
  }, 120_000);

  it('asks for a note where the choice needs one, and keeps quiet with notifications.bell false', async () => {
    expectScreenTools();
    configure({ bell: false });
    cli('daemon', 'start');
    const first = start('Write a short guide. Explain installation. Explain running.');
    await until('the plan to wait for approval', () => inbox().items.length === 1);
    const pane = attach(first);
    await pane.waitFor((s) => s.includes('1 waiting · i'), 'the header to count the plan', 15_000);

    const second = start('Write a note. Explain one thing.');
    await pane.waitFor((s) => s.includes('1 waiting, 1 in other runs · i'), 'both runs counted');

    pane.keys('i');
    await pane.waitFor(
      (s) => s.includes('2 items wait for you: 1 in this run (listed first), 1 in other runs'),
      'both items, this run first',
    );
    pane.keys('e');
    await pane.waitFor(
      (s) => s.includes('edit i1: your note (Enter sends, Esc goes back)'),
      'the note prompt',
    );
    // An empty note sends nothing.
    pane.keys('Enter');
    await pane.waitFor((s) => s.includes('edit needs a note'), 'the empty note refused');
    expect(status(first)).toBe('awaiting_approval');
    // The note typed right after the e, in one chunk as a quick typist sends it: none of it is lost
    // while the prompt opens (its first keys were, before).
    pane.keys('-l', 'eone task per section');
    await pane.waitFor((s) => s.includes('one task per section'), 'the whole note in the prompt');
    pane.keys('Enter');
    await pane.waitFor((s) => s.includes('i1 answered edit'), 'the edit sent');
    const answered = JSON.parse(cli('inbox', '--all', '--json')) as {
      items: { id: string; closed?: { choice?: string; note?: string } }[];
    };
    expect(answered.items.find((item) => item.id === 'i1')?.closed).toMatchObject({
      choice: 'edit',
      note: 'one task per section',
    });

    // The second run's plan is still there; the run on screen replans and asks again.
    expect(inbox().items.some((item) => item.runId === second)).toBe(true);
    await until('the new plan', () => inbox().items.filter((item) => item.runId === first).length === 1);
    await pane.waitFor((s) => s.includes('1 in other runs'), 'the new plan counted');
    // The new plan is selected, to answer next, not the other run's that moved up in its place.
    const replaced = inbox().items.find((item) => item.runId === first)!;
    await pane.waitFor(
      (s) => s.includes(`${replaced.id} plan_approval · run ${first}`),
      'the new plan selected in the panel',
    );
    expect(pane.format('#{window_bell_flag}')).toBe('0');

    pane.keys('Escape');
    await pane.waitFor((s) => !s.includes('─ Inbox ('), 'the panel closed by Esc');
    // i and q close the panel too, and only the panel.
    pane.keys('i');
    await pane.waitFor((s) => s.includes('─ Inbox ('), 'the panel again');
    pane.keys('i');
    await pane.waitFor((s) => !s.includes('─ Inbox ('), 'the panel closed by i');
    pane.keys('i');
    await pane.waitFor((s) => s.includes('─ Inbox ('), 'the panel once more');
    pane.keys('q');
    await pane.waitFor((s) => !s.includes('─ Inbox ('), 'the panel closed by q');
    await new Promise((r) => setTimeout(r, 500));
    expect(pane.capture()).not.toContain('[exit');
    // The new plan waits for approval again, and the screen says so as it did for the first.
    await pane.waitFor(
      (s) => /^AWAITING_APPROVAL/m.test(s) && s.includes('The plan waits for your approval'),
      'the new plan waiting',
    );
    expect(status(first)).toBe('awaiting_approval');
    pane.keys('q');
    await pane.waitFor((s) => s.includes('[exit 0]'), 'orc attach to exit');
  }, 150_000);
});
