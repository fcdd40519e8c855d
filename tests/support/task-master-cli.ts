import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');
/** The real Task Master CLI, a devDependency (task-master-ai 0.43). */
export const TASK_MASTER = join(ROOT, 'node_modules', 'task-master-ai', 'dist', 'task-master.js');
const NO_NETWORK = join(import.meta.dirname, 'no-network.mjs');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real `task-master` as a user would, but sealed: a temp HOME (it keeps state and credentials
 * there), no API keys, no update check against the registry (TASKMASTER_SKIP_AUTO_UPDATE; in 0.43 an
 * update it finds installs itself), and no network at all (no-network.mjs): a call that tries to reach a
 * host fails at once, and `run` throws naming the host.
 */
export class TaskMasterCli {
  private constructor(readonly home: string) {}

  static async create(): Promise<TaskMasterCli> {
    return new TaskMasterCli(await mkdtemp(join(tmpdir(), 'orc-tm-home-')));
  }

  private get networkLog(): string {
    return join(this.home, 'network-attempts.log');
  }

  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      PATH: process.env['PATH'],
      HOME: this.home,
      XDG_CONFIG_HOME: join(this.home, '.config'),
      TASKMASTER_SKIP_AUTO_UPDATE: '1',
      CI: '1',
      NO_COLOR: '1',
      TM_HIDE_BANNER: 'true',
      NODE_OPTIONS: `--import=${NO_NETWORK}`,
      NO_NETWORK_LOG: this.networkLog,
      ...extra,
    };
  }

  /** `task-master <args>` in `cwd`; resolves with what it printed and its exit code. */
  async run(cwd: string, args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> {
    const result = await new Promise<CliResult>((done) => {
      execFile(
        process.execPath,
        [TASK_MASTER, ...args],
        { cwd, env: this.env(extraEnv), timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
          done({ code, stdout, stderr });
        },
      );
    });
    const attempts = await readFile(this.networkLog, 'utf8').catch(() => '');
    if (attempts) throw new Error(`task-master tried the network:\n${attempts}`);
    return result;
  }

  /** Like `run`, and throws with its output when it fails. */
  async ok(cwd: string, args: string[], extraEnv: Record<string, string> = {}): Promise<string> {
    const result = await this.run(cwd, args, extraEnv);
    if (result.code !== 0) {
      throw new Error(
        `task-master ${args.join(' ')} exited ${result.code}:\n${result.stdout}\n${result.stderr}`,
      );
    }
    return result.stdout;
  }

  /**
   * A new project: `task-master init` (config and state; it writes no tasks.json in 0.43), then the empty
   * tasks file Task Master's own commands expect, as its `parse-prd` would leave it before adding tasks.
   */
  async init(dir: string): Promise<string> {
    await mkdir(dir, { recursive: true });
    await this.ok(dir, ['init', '--yes', '--skip-install', '--no-git', '--no-aliases']);
    const file = join(dir, '.taskmaster', 'tasks', 'tasks.json');
    await mkdir(join(dir, '.taskmaster', 'tasks'), { recursive: true });
    await writeFile(file, JSON.stringify({ master: { tasks: [], metadata: {} } }, null, 2));
    return file;
  }

  async cleanup(): Promise<void> {
    await rm(this.home, { recursive: true, force: true });
  }
}

/** The tasks of one tag as `task-master list --format json --with-subtasks` reports them. */
export interface ListedTask {
  id: number | string;
  title: string;
  status: string;
  dependencies: (number | string)[];
  subtasks?: ListedTask[];
}

export async function listTasks(cli: TaskMasterCli, dir: string, tag?: string): Promise<ListedTask[]> {
  const args = ['list', '--format', 'json', '--with-subtasks', ...(tag ? ['--tag', tag] : [])];
  const out = await cli.ok(dir, args);
  return (JSON.parse(out.slice(out.indexOf('{'))) as { tasks: ListedTask[] }).tasks;
}
