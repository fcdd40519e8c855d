import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isProcessAlive } from './daemon-info.js';

/** Who holds the lock: the pid plus the kernel's start time for it, so a reused pid is not mistaken for us. */
interface LockHolder {
  pid: number;
  started: string | undefined;
}

export interface InstanceLock {
  release(): void;
}

export type LockResult = { ok: true; lock: InstanceLock } | { ok: false; holderPid: number };

/**
 * One daemon per state directory. The lock is a file created exclusively; a holder that is gone (killed
 * with -9, or its pid reused by another program) is detected and its lock taken over, so nothing can
 * leave it wedged. Takeover renames the stale file away first, so two starters racing for it cannot both win.
 */
export function acquireInstanceLock(file: string): LockResult {
  const me: LockHolder = { pid: process.pid, started: processStartTime(process.pid) };
  for (let attempt = 0; attempt < 10; attempt++) {
    if (createExclusive(file, JSON.stringify(me))) {
      return { ok: true, lock: { release: () => releaseIfMine(file, me) } };
    }
    const holder = readHolder(file);
    if (holder !== undefined && isHolderAlive(holder)) return { ok: false, holderPid: holder.pid };
    if (holder === undefined) continue; // gone meanwhile: try to create it again
    takeOverStale(file, holder);
  }
  const holder = readHolder(file);
  return { ok: false, holderPid: holder?.pid ?? 0 };
}

/** Writes the content aside and links it into place: the lock appears complete or not at all. */
function createExclusive(file: string, content: string): boolean {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temp, content, { mode: 0o600 });
  try {
    linkSync(temp, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return false;
  } finally {
    rmSync(temp, { force: true });
  }
}

function takeOverStale(file: string, stale: LockHolder): void {
  const aside = `${file}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    renameSync(file, aside);
  } catch {
    return; // someone else moved it first; the caller tries again
  }
  const moved = readHolder(aside);
  if (moved !== undefined && (moved.pid !== stale.pid || moved.started !== stale.started)) {
    // We raced and moved a fresh lock: put it back if its place is still free.
    try {
      linkSync(aside, file);
    } catch {
      // the place was taken again; whoever holds it now is checked on the next attempt
    }
  }
  rmSync(aside, { force: true });
}

function releaseIfMine(file: string, me: LockHolder): void {
  const holder = readHolder(file);
  if (holder?.pid === me.pid) rmSync(file, { force: true });
}

/** The holder; undefined when there is no lock file; pid 0 for a file that is not a lock (stale). */
function readHolder(file: string): LockHolder | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (typeof value.pid === 'number') {
      return { pid: value.pid, started: typeof value.started === 'string' ? value.started : undefined };
    }
  } catch {
    // not JSON: treated as stale below
  }
  return { pid: 0, started: undefined };
}

function isHolderAlive(holder: LockHolder): boolean {
  if (holder.pid <= 0 || !isProcessAlive(holder.pid)) return false;
  if (holder.started === undefined) return true;
  const now = processStartTime(holder.pid);
  return now === undefined || now === holder.started;
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); undefined where /proc is absent. */
function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}
