import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OrcError } from '@orc/shared';
import { Low } from 'lowdb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DurableJsonFile, writeFileDurably } from './durable-json-file.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orc-durable-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('DurableJsonFile', () => {
  it('reads null for a missing file and round-trips data through lowdb', async () => {
    const file = join(dir, 'doc.json');
    const db = new Low(new DurableJsonFile<{ n: number }>(file), { n: 0 });
    await db.read();
    expect(db.data).toEqual({ n: 0 });
    db.data.n = 7;
    await db.write();

    const again = new Low(new DurableJsonFile<{ n: number }>(file), { n: 0 });
    await again.read();
    expect(again.data).toEqual({ n: 7 });
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ n: 7 });
  });

  it('writes files 0600 and leaves no temp file behind', async () => {
    const file = join(dir, 'doc.json');
    const sizes: number[] = [];
    const adapter = new DurableJsonFile<{ n: number }>(file, { onWrite: (bytes) => sizes.push(bytes) });
    for (let n = 0; n < 5; n++) await adapter.write({ n });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['doc.json']);
    expect(sizes).toEqual(Array(5).fill('{"n":4}\n'.length));
  });

  it('replaces the file atomically: a reader only ever sees a whole old or new version', async () => {
    const file = join(dir, 'doc.json');
    const adapter = new DurableJsonFile<{ version: number; padding: string }>(file);
    const padding = 'x'.repeat(512 * 1024);
    await adapter.write({ version: 0, padding });
    let writing = true;
    const writes = (async () => {
      for (let version = 1; version <= 15; version++) await adapter.write({ version, padding });
      writing = false;
    })();
    const seen = new Set<number>();
    while (writing) {
      const doc = await adapter.read(); // throws on a torn file
      expect(doc?.padding.length).toBe(padding.length);
      seen.add(doc!.version);
    }
    await writes;
    expect((await adapter.read())?.version).toBe(15);
    expect(seen.size).toBeGreaterThan(1);
    expect(await readdir(dir)).toEqual(['doc.json']);
  });

  it('keeps the old file and removes its temp file when a write fails', async () => {
    const target = join(dir, 'taken');
    await mkdir(target);
    await writeFile(join(target, 'keep'), 'x');
    // rename() cannot replace a non-empty directory, so the write fails after the temp file was written.
    await expect(new DurableJsonFile(target).write({ n: 1 })).rejects.toThrow();
    expect(await readdir(dir)).toEqual(['taken']);
  });

  it('names the file when it holds invalid JSON', async () => {
    const file = join(dir, 'broken.json');
    await writeFile(file, '{"n": 1');
    const error = await new DurableJsonFile(file).read().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OrcError);
    expect(error).toMatchObject({ code: 'STORE_ERROR' });
    expect((error as Error).message).toContain(file);
  });
});

describe('writeFileDurably', () => {
  it('writes text pieces in order, across buffer boundaries, and returns the bytes written', async () => {
    const file = join(dir, 'pieces.json');
    // Small pieces, one larger than the write buffer, and multi-byte characters.
    const pieces = ['{"a":"', 'é€'.repeat(1000), 'x'.repeat(3 * 1024 * 1024), '"', ',"b":[1,2]}\n'];
    for (let i = 0; i < 3000; i++) pieces.splice(1, 0, 'y'.repeat(500));
    const bytes = await writeFileDurably(file, pieces);
    const text = await readFile(file, 'utf8');
    expect(text).toBe(pieces.join(''));
    expect(bytes).toBe(Buffer.byteLength(text));
    expect(await readdir(dir)).toEqual(['pieces.json']);
  });
});
