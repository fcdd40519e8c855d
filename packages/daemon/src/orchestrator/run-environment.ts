import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { statePaths } from '@orc/shared';
import * as z from 'zod';
import { writeFileDurably } from '../store/durable-json-file.js';

const RunEnvironment = z.record(z.string(), z.string());

/**
 * `runs/<id>/environment.json` (0600): the values of the run's `claude_cli.environment`, which its
 * document, journal and checkpoints hold only by name (they can be tokens; see `storedConfig`). Read
 * back when the run is restored, so its agents get the same variables after a daemon restart.
 */
function environmentFile(home: string, runId: string): string {
  return join(statePaths(home).run(runId).dir, 'environment.json');
}

/** Kept before the run is created, so a crash right after leaves no run without its variables. */
export async function keepRunEnvironment(
  home: string,
  runId: string,
  environment: Record<string, string>,
): Promise<void> {
  if (Object.keys(environment).length === 0) return;
  const dir = statePaths(home).run(runId).dir;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFileDurably(environmentFile(home, runId), `${JSON.stringify(environment)}\n`);
}

/** The kept values; none when the run has no file (it had no variables, or it was lost). */
export async function readRunEnvironment(home: string, runId: string): Promise<Record<string, string>> {
  try {
    const parsed = RunEnvironment.safeParse(JSON.parse(await readFile(environmentFile(home, runId), 'utf8')));
    return parsed.success ? parsed.data : {};
  } catch {
    return {};
  }
}
