import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DamagedFileError } from './damaged-file-error.js';
import { TaskText, recordOfTask, type RunDocument } from './run-document.js';
import { RunDocumentFile, readRunDocument } from './run-document-file.js';
import { RunDocumentText } from './run-document-text.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orc-run-document-file-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function doc(tasks: number): RunDocument {
  return {
    version: 1,
    id: 'r1',
    goal: 'g',
    status: 'executing',
    models: {
      manager: { provider: 'simulated', model: 'm' },
      worker: { provider: 'simulated', model: 'w' },
      simulated: true,
    },
    config: {},
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
    tasks: Array.from({ length: tasks }, (_, i) => ({
      id: `t${i}`,
      title: `task ${i}`,
      description: '',
      dependencies: [],
      priority: 'medium' as const,
      status: 'pending' as const,
      attempts: [],
      reworks: 0,
    })),
    importedTasks: true,
    usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 },
    costUsd: 0,
    lastEventId: 0,
    checkpoints: [],
    tasksDoneSinceCheckpoint: 0,
  };
}

describe('RunDocumentFile', () => {
  it('is a lowdb adapter: a run document written from the text cache reads back the same', async () => {
    const file = join(dir, 'state.json');
    const sizes: number[] = [];
    const db = new RunDocumentFile(file, 'r1', new RunDocumentText(), {
      onWrite: (bytes) => sizes.push(bytes),
    }).open();
    expect(await readRunDocument(db)).toBeNull(); // no file yet
    db.data = doc(3);
    await db.write();
    const text = await readFile(file, 'utf8');
    expect(sizes).toEqual([Buffer.byteLength(text)]);
    expect(text.endsWith(']}\n')).toBe(true);
    const again = new RunDocumentFile(file, 'r1', new RunDocumentText()).open();
    expect(await readRunDocument(again)).toEqual(doc(3));
  });

  it("reads a task per line, keeping each task's text for the next write, and checks the lines as zod would", async () => {
    const file = join(dir, 'state.json');
    const db = new RunDocumentFile(file, 'r1', new RunDocumentText()).open();
    const written = doc(3);
    written.tasks[1] = { ...written.tasks[1]!, status: 'done', title: 'ünïcode, "quoted"\nand a line end' };
    db.data = written;
    await db.write();
    const text = await readFile(file, 'utf8');
    const lines = text.split('\n');
    expect(lines).toHaveLength(5); // the fields, three tasks, and the end
    expect(JSON.parse(text)).toEqual(written);
    const read = (await readRunDocument(new RunDocumentFile(file, 'r1', new RunDocumentText()).open()))!;
    expect(read).toEqual(written);
    // The text the record was read from, not a new serialisation; a changed record is serialised afresh.
    expect(TaskText.of(recordOfTask(read.tasks[1]!)).json).toBe(lines[2]!.slice(0, -1));
    const stringify = vi.spyOn(JSON, 'stringify');
    TaskText.of(recordOfTask(read.tasks[0]!));
    expect(stringify).not.toHaveBeenCalled();
    stringify.mockRestore();
    expect(TaskText.of({ ...recordOfTask(read.tasks[1]!) }).json).toBe(JSON.stringify(read.tasks[1]));
    // A task line that fails the check is told as the whole document's zod check tells it.
    await writeFile(file, text.replace('"status":"done"', '"status":"finished"'));
    const error = await readRunDocument(new RunDocumentFile(file, 'r1', new RunDocumentText()).open()).catch(
      (e: unknown) => e,
    );
    expect((error as DamagedFileError).reason).toMatch(/^is not a valid run document \(tasks\.1\.status: /);
  });

  it('says what is wrong with a damaged document, by name', async () => {
    const file = join(dir, 'state.json');
    const read = () => readRunDocument(new RunDocumentFile(file, 'r1', new RunDocumentText()).open());
    const damage = async (text: string) => {
      await writeFile(file, text);
      const error = await read().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DamagedFileError);
      return (error as DamagedFileError).reason;
    };
    expect(await damage('  \n')).toBe('is empty');
    expect(await damage('{"version":1,')).toMatch(/^is not valid JSON \(/);
    expect(await damage('{"version":1}')).toMatch(/^is not a valid run document \(id: /);
    expect(await damage(JSON.stringify({ ...doc(0), id: 'r2' }))).toBe('holds run r2, not r1');
  });

  it('makes a checkpoint folder (0700) on its first write when asked', async () => {
    const file = join(dir, 'checkpoints', 'cp1.json');
    const db = new RunDocumentFile(file, 'r1', new RunDocumentText(), { makeDir: true }).open();
    db.data = doc(1);
    await db.write();
    expect((await stat(join(dir, 'checkpoints'))).mode & 0o777).toBe(0o700);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });
});
