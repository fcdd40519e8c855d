import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Sandbox } from '../daemon/harness.js';

/** Mistakes a first-time user makes: each a one-line error with a documented exit code, nothing changed. */
let box: Sandbox;
afterEach(async () => {
  await box.cleanup();
});

const DOCUMENTED = [1, 2, 3, 4, 5];

describe('orc and the mistakes users make', () => {
  it('refuses a mistyped path instead of planning a goal named after it', async () => {
    box = await Sandbox.create();
    await box.writeConfig({ models: { provider: 'simulated' } });
    for (const arg of ['tasks.txt', './nodir/']) {
      const result = await box.orc(['run', arg]);
      expect(result, arg).toMatchObject({ code: 2, stdout: '' });
      expect(result.stderr, arg).toMatch(
        new RegExp(
          `^orc: ${arg.replace(/\./g, '\\.')}: no such file or directory \\(.*\\); give a tasks file or project that exists, or a goal in words\\n$`,
        ),
      );
    }
    // Nothing was started (the daemon was not even needed).
    expect(await box.daemonPid()).toBeUndefined();
  });

  it('orc attach without a terminal: an unknown run is said to be unknown, a known one sent to orc logs', async () => {
    box = await Sandbox.create();
    await box.writeConfig({
      models: { provider: 'simulated' },
      simulated: { latency_ms: { min: 0, max: 0 } },
    });
    const run = await box.orc(['run', 'write a haiku', '--json']);
    const runId = (JSON.parse(run.stdout) as { id: string }).id;
    // Not "use orc logs bogus --follow instead": that would fail in turn.
    expect(await box.orc(['attach', 'bogus'])).toMatchObject({
      code: 3,
      stdout: '',
      stderr: 'orc: no run "bogus"; orc ls lists the runs\n',
    });
    // A prefix is sent on as the run's whole id.
    expect(await box.orc(['attach', runId.slice(0, 4)])).toMatchObject({
      code: 2,
      stdout: '',
      stderr: `orc: orc attach needs a terminal; use orc logs ${runId} --follow instead\n`,
    });
  }, 60_000);

  it('refuses a state directory relative to here when HOME is empty and ORC_HOME unset', async () => {
    box = await Sandbox.create();
    box.env['HOME'] = '';
    delete box.env['ORC_HOME'];
    for (const args of [['ls'], ['run', 'write a haiku', '--detach'], ['daemon', 'status']]) {
      const result = await box.orc(args);
      expect(result, args.join(' ')).toMatchObject({
        code: 2,
        stdout: '',
        stderr:
          'orc: no state directory: ORC_HOME is not set and HOME is empty; set ORC_HOME (or HOME) to an absolute directory\n',
      });
    }
    // Nothing was made where orc ran (before: ./.local/state/claude-orchestrator with a daemon in it).
    expect(await readdir(box.home)).toEqual([]);
  });

  it('says integration.verify does nothing when the workers edit no repository', async () => {
    box = await Sandbox.create();
    await box.writeConfig({ models: { provider: 'simulated' }, integration: { verify: 'npm test' } });
    const result = await box.orc(['run', 'write a haiku', '--detach']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe(
      `orc: integration.verify is set, but run ${result.stdout.trim()}'s workers (simulated) edit no ` +
        `repository, so nothing is merged or verified; set models.worker.provider to claude-code for the merge train\n`,
    );
    // Without the key, no such line.
    await box.writeConfig({ models: { provider: 'simulated' } });
    expect((await box.orc(['run', 'write a haiku', '--detach'])).stderr).toBe('');
  });

  it('a file that is not JSON, as a tasks file or as the config, is one line that keeps its fix', async () => {
    box = await Sandbox.create();
    // V8's JSON.parse message quotes the text, newlines included: the first line alone lost the fix.
    await writeFile(join(box.home, 'NOTES.md'), '# Notes\n\nWrite the migration guide.\n');
    const notes = await box.orc(['run', 'NOTES.md']);
    expect(notes).toMatchObject({ code: 2, stdout: '' });
    expect(notes.stderr).toBe(
      `orc: ${join(box.home, 'NOTES.md')}: is not valid JSON (Unexpected token '#'); ` +
        `a tasks file is a JSON array of tasks, a goal is words in quotes\n`,
    );

    await writeFile(join(box.home, 'orc.config.json'), '# settings\nmodels: simulated\n');
    const file = join(box.home, 'orc.config.json');
    const expected = `orc: ${file}: is not valid JSON (Unexpected token '#'); fix the syntax\n`;
    expect(await box.orc(['config', 'validate'])).toMatchObject({ code: 2, stderr: expected });
    expect(await box.orc(['run', 'a goal'])).toMatchObject({ code: 2, stdout: '', stderr: expected });
    await writeFile(file, '{\n  "models": {\n    "provider": "simulated",\n  }\n}\n');
    expect((await box.orc(['config', 'validate'])).stderr).toBe(
      `orc: ${file}: is not valid JSON (Expected double-quoted property name at line 4, column 3); fix the syntax\n`,
    );
    expect(await box.daemonPid()).toBeUndefined();
  });

  it('an unknown field of a task names the task and the field it likely meant', async () => {
    box = await Sandbox.create();
    await box.writeConfig({ models: { provider: 'simulated' } });
    const file = join(box.home, 'tasks.json');
    await writeFile(file, JSON.stringify([{ id: 't1', title: 'a', depends: ['t0'] }]));
    expect(await box.orc(['run', 'tasks.json'])).toMatchObject({
      code: 2,
      stdout: '',
      stderr: `orc: ${file}: task t1: unknown field "depends"; did you mean "dependencies"?\n`,
    });
    await writeFile(file, JSON.stringify([{ id: 'a', title: 'a', colour: 'red' }]));
    expect((await box.orc(['run', 'tasks.json'])).stderr).toBe(
      `orc: ${file}: task a: unknown field "colour"; check its spelling\n`,
    );
    expect(await box.daemonPid()).toBeUndefined();
  });

  it('a touched path outside the repository names the task, the field and what is wrong', async () => {
    box = await Sandbox.create();
    await box.writeConfig({ models: { provider: 'simulated' } });
    const file = join(box.home, 'tasks.json');
    await writeFile(
      file,
      JSON.stringify([
        { id: 'a', title: 'fine', touches: ['src/**'] },
        { id: 'b', title: 'outside', touches: ['src/a.ts', '../other/x.ts'] },
      ]),
    );
    const result = await box.orc(['run', 'tasks.json']);
    expect(result).toMatchObject({ code: 2, stdout: '' });
    expect(result.stderr).toBe(
      `orc: ${file}: task b: touches "../other/x.ts": touched paths may not contain ".."\n`,
    );
    expect(await box.daemonPid()).toBeUndefined();
  });

  it('a project task-master init made has no tasks yet: says so, and not to run init again', async () => {
    box = await Sandbox.create();
    await box.writeConfig({ models: { provider: 'simulated' } });
    // What `task-master init` (0.43) leaves: .taskmaster/ and its folders, no tasks.json.
    const project = join(box.home, 'project');
    await mkdir(join(project, '.taskmaster', 'tasks'), { recursive: true });
    const expected =
      `orc: the Task Master project in ${project} has no tasks yet (no .taskmaster/tasks/tasks.json); ` +
      'make them with `task-master parse-prd`, or write that file\n';
    for (const args of [
      ['run', 'project'],
      ['run', '--taskmaster', 'project'],
      ['run', '--taskmaster'],
    ]) {
      const cwd = args.length === 2 && args[1] === '--taskmaster' ? project : box.home;
      const result = await box.orc(args, { cwd });
      expect(result, args.join(' ')).toMatchObject({ code: 2, stdout: '', stderr: expected });
    }
  });

  it('config validate lists every mistake, one line each, and exits 2', async () => {
    box = await Sandbox.create();
    await box.writeConfig({ modles: {}, execution: { max_workers: 'three', max_retries: -1 } });
    const result = await box.orc(['config', 'validate']);
    expect(result).toMatchObject({ code: 2, stdout: '' });
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    const file = join(box.home, 'orc.config.json');
    expect(lines[0]).toBe(
      `orc: ${file}: unknown config key modles; did you mean "models"? (see orc config schema)`,
    );
    expect(lines[1]).toMatch(
      new RegExp(`^orc: ${file}: config key execution\\.max_workers .*\\(got "three"\\)$`),
    );
    expect(lines[2]).toMatch(new RegExp(`^orc: ${file}: config key execution\\.max_retries .*\\(got -1\\)$`));
    const json = await box.orc(['config', 'validate', '--json']);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ valid: false, problems: expect.any(Array) as unknown });
    expect((JSON.parse(json.stdout) as { problems: string[] }).problems).toHaveLength(3);
  });

  it('exits only with documented codes: gc of a folder that is no repository, a state dir that is a file, and more', async () => {
    box = await Sandbox.create();
    const outside = join(box.home, 'not-a-repo');
    await mkdir(outside);
    // Worktrees live in the state directory: gc works from any directory.
    const anywhere = await box.orc(['gc'], { cwd: outside });
    expect(anywhere).toMatchObject({ code: 0, stdout: 'no leftover worktree\n', stderr: '' });
    const gc = await box.orc(['gc', '--workdir', outside]);
    expect(gc).toMatchObject({ code: 2, stdout: '' });
    expect(gc.stderr).toBe(
      `orc: ${outside} is not a git repository; pass --workdir <repo>, or leave it out to clean every repository\n`,
    );

    const file = join(box.home, 'a-file');
    await writeFile(file, '');
    box.env['ORC_HOME'] = file;
    const home = await box.orc(['ls']);
    expect(home).toMatchObject({ code: 2, stdout: '' });
    expect(home.stderr).toBe(
      `orc: the state directory ${file} cannot be made (EEXIST); set ORC_HOME to a directory you can write\n`,
    );
    box.env['ORC_HOME'] = box.home;

    const attempts = [
      ['gc', '--workdir', join(box.home, 'missing')],
      ['show', 'last'],
      ['rm', 'nothing'],
      ['logs', 'r1', '--after', 'x'],
      ['rollback', 'r1', 'cp1', '--strategy', 'sideways'],
      ['rollback', 'r1', 'cp1', '--tasks', 't1'],
      ['resume', 'r1', '--budget', '-1'],
      ['ls', '--status', 'nope'],
      ['prune'],
      ['config', 'validate', 'missing.json'],
      ['run'],
      ['bogus-command'],
      // The argument parser's own mistakes read as ours do: `orc: `, one line (its hint too; more below).
      ['run', '--workers'],
    ];
    for (const args of attempts) {
      const result = await box.orc(args);
      expect(DOCUMENTED, `${args.join(' ')}: exit ${result.code}: ${result.stderr}`).toContain(result.code);
      expect(result.stderr.trimEnd().split('\n'), args.join(' ')).toHaveLength(1);
      expect(result.stderr, args.join(' ')).toMatch(/^orc: /);
      expect(result.stderr, args.join(' ')).not.toContain('internal error');
    }
    for (const [args, line] of [
      [['lgs'], "orc: unknown command 'lgs' (did you mean one of logs, ls?)\n"],
      [['ls', '--bogus'], "orc: unknown option '--bogus'; see orc ls --help\n"],
      [['foo'], "orc: unknown command 'foo'; see orc --help\n"],
      [['config', 'describe'], "orc: unknown command 'describe'; see orc config --help\n"],
      [['show'], "orc: missing required argument 'run'\n"],
    ] as const) {
      expect(await box.orc([...args])).toMatchObject({ code: 2, stdout: '', stderr: line });
    }
  }, 60_000);

  it('anthropic without a key names a fix the command has: orc worker, the daemon, orc run', async () => {
    box = await Sandbox.create();
    await box.writeConfig({ models: { provider: 'anthropic' }, execution: { backend: 'redis' } });
    const elsewhere = join(box.home, 'elsewhere');
    await mkdir(elsewhere);
    // orc worker has no --provider: the runs' provider is the daemon's, the key its own.
    expect(await box.orc(['worker'], { cwd: elsewhere })).toMatchObject({
      code: 2,
      stdout: '',
      stderr:
        'orc: models.provider is "anthropic" but ANTHROPIC_API_KEY is not set; set it where orc worker runs: ' +
        "a worker makes the model calls of the daemon's runs with its own key\n",
    });
    // Where the provider was chosen: the daemon's file (orc ls has no --provider either), or the flag.
    const ls = await box.orc(['ls'], { cwd: elsewhere });
    expect(ls.code).toBe(2);
    expect(ls.stderr).toBe(
      `orc: models.provider is "anthropic" but ANTHROPIC_API_KEY is not set; set it, or set models.provider ` +
        `to "simulated" in ${join(box.home, 'orc.config.json')}\n`,
    );
    await box.writeConfig({ execution: { backend: 'redis' } });
    const run = await box.orc(['run', 'a goal', '--provider', 'anthropic'], { cwd: elsewhere });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/set it, or use --provider simulated\n$/);
  });
});
