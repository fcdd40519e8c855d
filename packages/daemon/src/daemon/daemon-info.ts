import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { OrcError, type StatePaths } from '@orc/shared';
import * as z from 'zod';

/** What `daemon.json` holds: how a client finds the daemon. Written only once it accepts connections. */
export const DaemonInfo = z.object({
  pid: z.number().int().positive(),
  port: z.number().int().positive(),
  version: z.string(),
  startedAt: z.string(),
  /** The loopback port Prometheus metrics are served on (`monitoring.metrics_port`), when they are. */
  metricsPort: z.number().int().positive().optional(),
});
export type DaemonInfo = z.infer<typeof DaemonInfo>;

/** Creates the state directory with mode 0700 (and tightens it when it already exists). */
export function ensureStateDir(paths: StatePaths): void {
  try {
    mkdirSync(paths.root, { recursive: true, mode: 0o700 });
    chmodSync(paths.root, 0o700);
  } catch (error) {
    // Where the state lives is the user's setting (ORC_HOME, XDG_STATE_HOME): a mistake there is theirs.
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new OrcError(
      'CONFIG_INVALID',
      `the state directory ${paths.root} cannot be made (${code}); set ORC_HOME to a directory you can write`,
    );
  }
}

/** The daemon's info, or undefined when there is no (readable) `daemon.json`. */
export function readDaemonInfo(paths: StatePaths): DaemonInfo | undefined {
  let text: string;
  try {
    text = readFileSync(paths.daemon, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = DaemonInfo.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export function writeDaemonInfo(paths: StatePaths, info: DaemonInfo): void {
  writeFileAtomic(paths.daemon, `${JSON.stringify(info, null, 2)}\n`);
}

/** Removes `daemon.json` only when it still describes `pid`, so a stopping daemon never erases a successor. */
export function removeDaemonInfo(paths: StatePaths, pid: number): void {
  const info = readDaemonInfo(paths);
  if (info === undefined || info.pid === pid) rmSync(paths.daemon, { force: true });
}

/** The connection token: created once (random, 0600) and kept, so clients survive a daemon restart. */
export function readOrCreateToken(paths: StatePaths): string {
  const existing = readToken(paths);
  if (existing !== undefined) return existing;
  const token = randomBytes(32).toString('hex');
  writeFileAtomic(paths.token, `${token}\n`);
  return token;
}

export function readToken(paths: StatePaths): string | undefined {
  try {
    const token = readFileSync(paths.token, 'utf8').trim();
    return token.length > 0 ? token : undefined;
  } catch {
    return undefined;
  }
}

/** True when a process with this pid exists (EPERM means it exists but belongs to someone else). */
/**
 * Whether the process runs. A zombie does not: a killed daemon whose parent has not reaped it yet (or
 * never will, under a container init that reaps nothing) still answers signals but holds nothing.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/** Linux: the state letter after the parenthesised command name in /proc/<pid>/stat. */
function isZombie(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false; // no procfs (macOS), or the process just went
  }
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
}

/** Temp file, then rename: a reader sees the old file or the new one, never half of one. */
export function writeFileAtomic(file: string, text: string): void {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temp, text, { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, file);
}
