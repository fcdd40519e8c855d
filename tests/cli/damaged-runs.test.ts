import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runWorkMs, type RunSummary } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, FAST_SIM, Sandbox } from '../daemon/harness.js';
import { TmuxPane } from '../tui/tmux.js';

/**
 * Damaged files as a user meets them: two finished runs, the daemon stopped, one run's state.json cut
 * short (it comes back, rebuilt), the other's state.json garbled and a line cut out of its journal past
 * its checkpoint (nothing can rebuild it). Then ls, show, logs, retry, doctor and attach, all real.
 */
let box: Sandbox;
let pane: TmuxPane | undefined;
afterEach(async () => {
  pane?.kill();
  pane = undefined;
  await box.cleanup();
});

describe('damaged runs through the CLI', () => {
  it('are listed, shown, refused, replayed up to the hole, reported by doctor and drawn by the TUI', async () => {
    box = await Sandbox.create();
    await box.writeConfig(FAST_SIM);
    const tasks = join(box.home, 'tasks.json');
    await writeFile(
      tasks,
      JSON.stringify([
        { id: 't1', title: 'first' },
        { id: 't2', title: 'second', dependencies: ['t1'] },
        { id: 't3', title: 'third', dependencies: ['t2'] },
      ]),
    );
    const run = async () => {
      const result = await box.orc(['run', tasks, '--json']);
      expect(result.code, result.stderr).toBe(0);
      return (JSON.parse(result.stdout) as RunSummary).id;
    };
    const rebuilt = await run();
    const damaged = await run();
    expect((await box.orc(['daemon', 'stop'])).code).toBe(0);

    const file = (runId: string, name: string) => join(box.home, 'runs', runId, name);
    const cut = await readFile(file(rebuilt, 'state.json'), 'utf8');
    await writeFile(file(rebuilt, 'state.json'), cut.slice(0, cut.length / 2));
    const saved = JSON.parse(await readFile(file(damaged, 'state.json'), 'utf8')) as {
      checkpoints: { lastEventId: number }[];
    };
    const hole = saved.checkpoints.at(-1)!.lastEventId + 2;
    const whole = {
      state: await readFile(file(damaged, 'state.json'), 'utf8'),
      events: await readFile(file(damaged, 'events.jsonl'), 'utf8'),
    };
    const damage = async () => {
      await writeFile(
        file(damaged, 'events.jsonl'),
        whole.events
          .split('\n')
          .filter((line) => !line.startsWith(`{"id":${hole},`))
          .join('\n'),
      );
      await writeFile(file(damaged, 'state.json'), 'garbled\n{"version":1');
    };
    await damage();

    // ls starts the daemon, which finds both.
    const ls = await box.orc(['ls']);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(new RegExp(`^${rebuilt} +completed .* 3/3 `, 'm'));
    // Its tasks as last counted, not 0/0.
    expect(ls.stdout).toMatch(new RegExp(`^${damaged} +damaged .* 3/3 `, 'm'));
    expect(ls.stdout).toContain(`damaged: ${file(damaged, 'state.json')} is not valid JSON`);
    expect(ls.stdout).toContain(`fix: orc rm ${damaged} removes it`);
    const listed = JSON.parse((await box.orc(['ls', '--json'])).stdout) as RunSummary[];
    expect(listed.find((r) => r.id === damaged)).toMatchObject({
      status: 'damaged',
      damage: { file: file(damaged, 'state.json') },
    });
    // Its time stopped where its record does: it does not count up as its age.
    const shown = listed.find((r) => r.id === damaged)!;
    expect(runWorkMs(shown, Date.now() + 60_000)).toBe(runWorkMs(shown, Date.now()));
    expect(listed.find((r) => r.id === damaged)!.damage!.reason).toContain(
      `the run cannot be rebuilt: ${file(damaged, 'events.jsonl')} has a hole: event ${hole} is missing`,
    );

    const showRebuilt = await box.orc(['show', rebuilt]);
    expect(showRebuilt.code).toBe(0);
    expect(showRebuilt.stdout).toMatch(
      new RegExp(
        `^rebuilt from checkpoint cp\\d+ and the journal after ${file(rebuilt, 'state.json')} `,
        'm',
      ),
    );
    expect(showRebuilt.stdout).toContain(
      `the damaged file is kept as ${file(rebuilt, 'state.json')}.damaged-`,
    );
    expect(showRebuilt.stdout).toMatch(/^ {2}t3 +done/m);
    const showDamaged = await box.orc(['show', damaged]);
    expect(showDamaged.code).toBe(0);
    expect(showDamaged.stdout).toMatch(
      /^damaged: .*state\.json is not valid JSON .*; the run is kept as it is and not run$/m,
    );
    expect(showDamaged.stdout).toMatch(new RegExp(`^run ${damaged} damaged`, 'm'));
    expect(showDamaged.stdout).toContain('the run is kept as it is and not run');
    // And what a person can do about it, only what works (both are done below).
    const fix = `fix: orc rm ${damaged} removes it; or put back a good copy of the file and restart the daemon (orc daemon stop, then orc daemon start) to read it again`;
    expect(showDamaged.stdout).toMatch(new RegExp(`^${fix.replace(/[()]/g, '\\$&')}$`, 'm'));

    const retry = await box.orc(['retry', damaged, 't1']);
    expect(retry.code).toBe(4);
    expect(retry.stderr.trim().split('\n')).toHaveLength(1);
    expect(retry.stderr).toContain(`run ${damaged} is damaged: ${file(damaged, 'state.json')}`);
    expect(retry.stderr).toContain(`orc rm ${damaged} removes it`);

    const logs = await box.orc(['logs', damaged]);
    expect(logs.code).toBe(1);
    const ids = logs.stdout
      .trim()
      .split('\n')
      .map((line) => Number(/^#(\d+)/.exec(line)?.[1]));
    expect(ids).toEqual(Array.from({ length: hole - 1 }, (_, i) => i + 1));
    const putBack = `fix: put back a good copy of ${file(damaged, 'events.jsonl')} and restart the daemon (orc daemon stop, then orc daemon start) to read them all`;
    expect(logs.stderr.trim()).toBe(
      `orc: ${file(damaged, 'events.jsonl')} has a hole: event ${hole} is missing before line ${hole}; orc logs ${damaged} --after ${hole} reads on past it; ${putBack}`,
    );

    const doctor = await box.orc(['doctor', '--json']);
    expect(doctor.code).toBe(1);
    const report = JSON.parse(doctor.stdout) as {
      ok: boolean;
      damagedRuns: string[];
      checks: { name: string; status: string; detail: string }[];
    };
    expect(report.ok).toBe(false);
    expect(report.damagedRuns).toEqual([damaged]);
    const runsCheck = report.checks.find((c) => c.name === 'runs')!;
    expect(runsCheck.status).toBe('fail');
    expect(runsCheck.detail).toContain(`rebuilt from damaged files: ${rebuilt}`);
    expect(runsCheck.detail).toContain(fix);

    // The report over the window counts the run it could not read and names its file in a sentence.
    const window = await box.orc(['report', '--since', '7d']);
    expect(window.code, window.stderr).toBe(0);
    expect(window.stdout).toMatch(
      /^since .*: 1 run \(1 completed\) and 1 that could not be read \(listed below\), /,
    );
    expect(window.stdout).toContain(
      `  ${damaged}  could not be read: ${file(damaged, 'state.json')} is not valid JSON (`,
    );

    expect(TmuxPane.available(), 'tmux is needed for the screen tests').toBe(true);
    pane = new TmuxPane(`node ${CLI} attach ${damaged}`, {
      cwd: box.home,
      env: {
        TERM: 'xterm-256color',
        LANG: 'C.UTF-8',
        ORC_HOME: box.home,
        HOME: box.home,
        PATH: process.env['PATH']!,
      },
    });
    const screen = await pane.waitFor((s) => /^DAMAGED/m.test(s), 'the damaged run on screen', 15_000);
    expect(screen).toContain(`run ${damaged}`);
    expect(screen).toMatch(/Damaged: .*state\.json is not valid JSON/);
    pane.keys('q');
    await pane.waitFor((s) => s.includes('[exit 0]'), 'attach to exit');

    // Its state.json put back alone, as the fix says: the run is whole again, its journal still has the
    // hole. orc doctor reads every journal through and says so, with what to do; orc logs says it too.
    await writeFile(file(damaged, 'state.json'), whole.state);
    expect((await box.orc(['daemon', 'stop'])).code).toBe(0);
    expect((await box.orc(['ls'])).stdout).toMatch(new RegExp(`^${damaged} +completed .* 3/3 `, 'm'));
    const history = await box.orc(['doctor']);
    expect(history.stdout).toMatch(/^ok {4}runs {7}2 runs/m);
    const told = history.stdout.split('\n').find((line) => line.startsWith('warn  history'));
    expect(told).toBe(
      `warn  history    run ${damaged}: journal damaged: ${file(damaged, 'events.jsonl')} has a hole: event ${hole} is missing before line ${hole}; ` +
        `the run is whole in its saved state, only the events there cannot be read; orc logs ${damaged} --after ${hole} reads on past it; ${putBack}`,
    );
    const holed = await box.orc(['logs', damaged]);
    expect(holed.code).toBe(1);
    expect(holed.stderr).toContain(`--after ${hole} reads on past it; ${putBack}`);
    const past = await box.orc(['logs', damaged, '--after', String(hole)]);
    expect(past.code, past.stderr).toBe(0);
    expect(Number(/^#(\d+)/.exec(past.stdout)?.[1])).toBe(hole + 1);
    expect(past.stdout).toMatch(/run\.completed/);
    const shownHole = await box.orc(['show', damaged]);
    expect(shownHole.stdout).toContain(`orc logs ${damaged} --after ${hole} reads on past it; ${putBack}`);
    const reported = await box.orc(['report', damaged]);
    expect(reported.code).toBe(1);
    expect(reported.stderr).toContain(`has a hole: event ${hole} is missing`);
    expect(reported.stderr).toContain(`--after ${hole} reads on past it; ${putBack}`);

    // Its files put back whole, the daemon's next start reads the run again.
    await writeFile(file(damaged, 'state.json'), whole.state);
    await writeFile(file(damaged, 'events.jsonl'), whole.events);
    expect((await box.orc(['daemon', 'stop'])).code).toBe(0);
    expect((await box.orc(['ls'])).stdout).toMatch(new RegExp(`^${damaged} +completed .* 3/3 `, 'm'));
    await damage();
    expect((await box.orc(['daemon', 'stop'])).code).toBe(0);
    expect((await box.orc(['ls'])).stdout).toMatch(new RegExp(`^${damaged} +damaged `, 'm'));

    // A damaged run is not live: orc rm removes it (it told the user to cancel it, which is refused too).
    const rm = await box.orc(['rm', damaged]);
    expect(rm, rm.stderr).toMatchObject({ code: 0, stderr: '' });
    expect(rm.stdout).toMatch(new RegExp(`^removed ${damaged} \\(damaged, `));
    expect(existsSync(join(box.home, 'runs', damaged))).toBe(false);
    expect((await box.orc(['ls'])).stdout).not.toContain(damaged);
  });
});
