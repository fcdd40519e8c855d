import { chmod, cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Test support: real Task Master files from public projects, kept in the repository under
 * tests/fixtures/taskmaster (their origin is in the README there). Tests copy them into a temp dir before
 * anything writes.
 */

/** tests/fixtures/taskmaster, found from here (tests/support, or its dist/ when compiled). */
export const TASKMASTER_FIXTURE_DIR = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (path.basename(dir) !== 'tests' && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, 'fixtures', 'taskmaster');
})();

export const TASKMASTER_FIXTURES = [
  '0xdolan__tajdin__tasks.json',
  'AlexKucera__obsidian-typst-pdf-export__tasks.json',
  'Chious__map-app__tasks.json',
] as const;
export type TaskMasterFixture = (typeof TASKMASTER_FIXTURES)[number];

export function fixturePath(name: TaskMasterFixture): string {
  return path.join(TASKMASTER_FIXTURE_DIR, name);
}

/** Temp dirs made through `tempProject`, removed by `removeTempProjects` (call it in afterEach). */
const made: string[] = [];

export interface TempProject {
  dir: string;
  file: string;
}

/** A temp project dir with `tasks.json` at Task Master's current location (or the legacy one). */
export async function tempProject(
  content: { fixture: TaskMasterFixture } | { json: unknown } | { text: string },
  where: 'current' | 'legacy' = 'current',
): Promise<TempProject> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orc-taskmaster-'));
  made.push(dir);
  const file =
    where === 'current'
      ? path.join(dir, '.taskmaster', 'tasks', 'tasks.json')
      : path.join(dir, 'tasks', 'tasks.json');
  await mkdir(path.dirname(file), { recursive: true });
  if ('fixture' in content) {
    await cp(fixturePath(content.fixture), file);
  } else {
    await writeFile(file, 'text' in content ? content.text : JSON.stringify(content.json, null, 2));
  }
  // A fixture may be read-only on disk (a read-only checkout); a copy must be writable like a user's file.
  await chmod(file, 0o644);
  return { dir, file };
}

export async function removeTempProjects(): Promise<void> {
  await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}
