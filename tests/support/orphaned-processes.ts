import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';

/**
 * Kills every process of this user whose `ORC_HOME` is a temp directory that no longer exists: a daemon
 * (or an agent it started) that a test began after its sandbox was cleaned up, as a timed-out test body
 * does while vitest runs its hooks. Such a process can never be reached again: nothing holds its token.
 * A home that still exists belongs to a test running now (in this run or another), and is left alone.
 * Returns the homes whose processes were killed. Linux only (it reads /proc); elsewhere it finds none.
 */
export async function killOrphanedProcesses(): Promise<string[]> {
  const temp = tmpdir();
  const homes = new Set<string>();
  let pids: string[];
  try {
    pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid);
  } catch {
    return [];
  }
  for (const pid of pids) {
    const home = await orcHomeOf(pid);
    if (home === undefined || !home.startsWith(`${temp}/`) || existsSync(home)) continue;
    try {
      process.kill(Number(pid), 'SIGKILL');
      homes.add(home);
    } catch {
      // gone meanwhile, or not ours
    }
  }
  return [...homes];
}

async function orcHomeOf(pid: string): Promise<string | undefined> {
  try {
    const environ = await readFile(`/proc/${pid}/environ`, 'utf8');
    const entry = environ.split('\0').find((variable) => variable.startsWith('ORC_HOME='));
    return entry?.slice('ORC_HOME='.length);
  } catch {
    return undefined; // another user's process, or gone
  }
}
