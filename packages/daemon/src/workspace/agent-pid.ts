import { execFile } from 'node:child_process';
import { readFile, readlink, realpath, rm } from 'node:fs/promises';
import { killTagged } from '../model/process-tag.js';

/**
 * Where the pid (and process tag) of the agent working in `workdir` is kept while it runs: beside the
 * folder, so it is never committed. A daemon killed before it could stop its agents finds them through
 * it on restart.
 */
export function agentPidFile(workdir: string): string {
  return `${workdir.replace(/\/+$/, '')}.agent-pid`;
}

/**
 * Stops the agent a killed daemon left working in `worktree` (its whole process group), so it cannot
 * write there while the worktree's work is kept and the folder removed. A pid is only trusted while its
 * process still works in that folder: after a reboot the number may belong to someone else.
 */
export async function stopLeftoverAgent(worktree: string): Promise<void> {
  const file = agentPidFile(worktree);
  const [pidText = '', tag] = (await readFile(file, 'utf8').catch(() => '')).trim().split(' ');
  const pid = Number(pidText);
  if (Number.isInteger(pid) && pid > 0 && (await worksIn(pid, worktree))) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // ESRCH: gone meanwhile.
    }
    // The operating system's real time: the killed process exits in it, whatever the engine's Clock says.
    for (let i = 0; i < 40 && alive(pid); i++) await new Promise((done) => setTimeout(done, 50));
  }
  // Tool processes that left the agent's group (a background command) carry its tag: none outlives it.
  if (tag !== undefined && /^[0-9a-f]{16}$/.test(tag)) killTagged(tag);
  await rm(file, { force: true });
}

async function worksIn(pid: number, folder: string): Promise<boolean> {
  const real = await realpath(folder).catch(() => folder);
  const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => lsofCwd(pid));
  return cwd === real || cwd === folder;
}

/** Where /proc is missing (macOS): the process's working directory as lsof reports it. */
function lsofCwd(pid: number): Promise<string | undefined> {
  return new Promise((done) => {
    execFile('lsof', ['-a', '-p', String(pid), '-d', 'cwd', '-Fn'], (error, stdout) => {
      done(error ? undefined : /^n(.*)$/m.exec(stdout)?.[1]);
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
