import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from '../daemon/harness.js';

/**
 * The install the README gives: `npm install -g ./packages/tui` from the built clone puts `orc` on the
 * PATH, and it works from any directory. Installed into a temp prefix, with npm's cache and logs in a
 * temp home, offline (a link to the clone needs nothing from the registry).
 */
const made: string[] = [];
const temp = async (name: string) => {
  const dir = await mkdtemp(join(tmpdir(), `orc-install-${name}-`));
  made.push(dir);
  return dir;
};

function run(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(command, args, { ...options, timeout: 60_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** A daemon that did not stop is killed, so the test leaves no process behind. */
async function killDaemonOf(home: string): Promise<void> {
  try {
    const { pid } = JSON.parse(await readFile(join(home, 'daemon.json'), 'utf8')) as { pid: number };
    process.kill(pid, 'SIGKILL');
  } catch {
    // stopped: no daemon.json, or the process is gone
  }
}

afterEach(async () => {
  await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('npm install -g ./packages/tui', () => {
  it('puts orc on the PATH, and it runs a daemon and a run from another directory', async () => {
    const prefix = await temp('prefix');
    const npmHome = await temp('npm');
    const npmEnv = { ...process.env, HOME: npmHome, npm_config_cache: join(npmHome, 'cache') };
    const install = await run(
      'npm',
      [
        'install',
        '-g',
        '--prefix',
        prefix,
        '--offline',
        '--no-audit',
        '--no-fund',
        '--no-update-notifier',
        './packages/tui',
      ],
      { cwd: ROOT, env: npmEnv },
    );
    expect(install.code, install.stderr).toBe(0);

    const home = await temp('home');
    const project = await temp('project');
    await writeFile(
      join(project, 'orc.config.json'),
      JSON.stringify({ models: { provider: 'simulated' }, simulated: { latency_ms: { min: 0, max: 5 } } }),
    );
    await writeFile(
      join(project, 'tasks.json'),
      JSON.stringify([
        { id: 'a', title: 'first' },
        { id: 'b', title: 'second', dependencies: ['a'] },
      ]),
    );
    const env = {
      PATH: `${join(prefix, 'bin')}:${process.env['PATH']}`,
      HOME: home,
      ORC_HOME: home,
      XDG_CONFIG_HOME: join(home, 'config'),
    };
    const orc = (line: string) => run('sh', ['-c', line], { cwd: project, env });
    try {
      expect((await orc('command -v orc')).stdout.trim()).toBe(join(prefix, 'bin', 'orc'));
      const started = await orc('orc daemon start');
      expect(started.code, started.stderr).toBe(0);
      const ran = await orc('orc run tasks.json --json');
      expect(ran.code, ran.stderr).toBe(0);
      const summary = JSON.parse(ran.stdout) as { id: string; status: string; taskTotal: number };
      expect(summary).toMatchObject({ status: 'completed', taskTotal: 2 });
      const ls = await orc('orc ls');
      expect(ls.code, ls.stderr).toBe(0);
      expect(ls.stdout).toContain(summary.id);
    } finally {
      await orc('orc daemon stop');
      await killDaemonOf(home);
    }
  }, 90_000);
});
