import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  detectTaskMasterPath,
  formatOf,
  layoutOf,
  locateTaskMasterFile,
  resolveTag,
  serializeJson,
} from './taskmaster-file.js';
import { fixturePath, removeTempProjects, tempProject, TASKMASTER_FIXTURES } from '@orc/test-support';

afterEach(removeTempProjects);

const legacyJson = { tasks: [{ id: 1, title: 'One', status: 'pending', dependencies: [] }], metadata: {} };

describe('detectTaskMasterPath', () => {
  it('finds the current location in a project dir', async () => {
    const { dir, file } = await tempProject({ fixture: 'Chious__map-app__tasks.json' });
    expect(detectTaskMasterPath(dir)).toBe(file);
  });

  it('prefers .taskmaster/tasks/tasks.json over the legacy tasks/tasks.json', async () => {
    const { dir, file } = await tempProject({ fixture: 'Chious__map-app__tasks.json' });
    await mkdir(path.join(dir, 'tasks'));
    await writeFile(path.join(dir, 'tasks', 'tasks.json'), JSON.stringify(legacyJson));
    expect(detectTaskMasterPath(dir)).toBe(file);
  });

  it('finds a legacy tasks/tasks.json only when it looks like Task Master', async () => {
    const { dir, file } = await tempProject({ json: legacyJson }, 'legacy');
    expect(detectTaskMasterPath(dir)).toBe(file);
    await writeFile(file, JSON.stringify({ tasks: [{ name: 'not task master' }] }));
    expect(detectTaskMasterPath(dir)).toBeUndefined();
    await writeFile(file, '{ broken');
    expect(detectTaskMasterPath(dir)).toBeUndefined();
  });

  it('accepts a tasks file given directly, and rejects other JSON files', async () => {
    const { dir, file } = await tempProject({ fixture: '0xdolan__tajdin__tasks.json' });
    expect(detectTaskMasterPath(file)).toBe(file);
    const other = path.join(dir, 'package.json');
    await writeFile(other, JSON.stringify({ name: 'x', scripts: {} }));
    expect(detectTaskMasterPath(other)).toBeUndefined();
    expect(detectTaskMasterPath(path.join(dir, 'missing'))).toBeUndefined();
    expect(detectTaskMasterPath(path.join(dir, 'src'))).toBeUndefined();
  });

  it('finds nothing in a dir without Task Master', async () => {
    const { dir } = await tempProject({ json: legacyJson }, 'legacy');
    const empty = path.join(dir, 'empty');
    await mkdir(empty);
    expect(detectTaskMasterPath(empty)).toBeUndefined();
    expect(() => locateTaskMasterFile(empty)).toThrow(
      /no Task Master tasks file in .*empty.*task-master init/,
    );
    // What `task-master init` leaves: .taskmaster/ without a tasks.json. Running init again makes none.
    await mkdir(path.join(empty, '.taskmaster', 'tasks'), { recursive: true });
    expect(detectTaskMasterPath(empty)).toBeUndefined();
    expect(() => locateTaskMasterFile(empty)).toThrow(
      `the Task Master project in ${empty} has no tasks yet (no .taskmaster/tasks/tasks.json); make them with \`task-master parse-prd\`, or write that file`,
    );
  });
});

describe('resolveTag', () => {
  it('takes --tag, then TASKMASTER_TAG, then state.json currentTag, then master', async () => {
    const { dir, file } = await tempProject({ fixture: 'Chious__map-app__tasks.json' });
    expect(await resolveTag(file, { env: {} })).toEqual({ tag: 'master', source: 'default' });
    await writeFile(
      path.join(dir, '.taskmaster', 'state.json'),
      JSON.stringify({ currentTag: 'feature', other: 1 }),
    );
    expect(await resolveTag(file, { env: {} })).toEqual({ tag: 'feature', source: 'state.json' });
    expect(await resolveTag(file, { env: { TASKMASTER_TAG: 'from-env' } })).toEqual({
      tag: 'from-env',
      source: 'TASKMASTER_TAG',
    });
    expect(await resolveTag(file, { tag: 'explicit', env: { TASKMASTER_TAG: 'from-env' } })).toEqual({
      tag: 'explicit',
      source: 'option',
    });
  });

  it('reads state.json of a legacy project from .taskmaster next to tasks/', async () => {
    const { dir, file } = await tempProject({ json: legacyJson }, 'legacy');
    await mkdir(path.join(dir, '.taskmaster'));
    await writeFile(
      path.join(dir, '.taskmaster', 'state.json'),
      JSON.stringify({ currentTag: 'legacy-tag' }),
    );
    expect((await resolveTag(file, { env: {} })).tag).toBe('legacy-tag');
  });

  it('names a broken state.json', async () => {
    const { dir, file } = await tempProject({ fixture: 'Chious__map-app__tasks.json' });
    await writeFile(path.join(dir, '.taskmaster', 'state.json'), '{ nope');
    await expect(resolveTag(file, { env: {} })).rejects.toMatchObject({
      code: 'TASK_FILE_INVALID',
      message: expect.stringMatching(/state\.json is not valid JSON.*--tag/) as unknown,
    });
  });
});

describe('layout and formatting', () => {
  it('tells the tagged layout from the legacy one', async () => {
    const tagged: unknown = JSON.parse(await readFile(fixturePath('0xdolan__tajdin__tasks.json'), 'utf8'));
    const legacy: unknown = JSON.parse(await readFile(fixturePath('Chious__map-app__tasks.json'), 'utf8'));
    expect(layoutOf(tagged)).toBe('tagged');
    expect(layoutOf(legacy)).toBe('legacy');
    expect(layoutOf({ something: 'else' })).toBeUndefined();
    expect(layoutOf([])).toBeUndefined();
  });

  it.each(TASKMASTER_FIXTURES)('rewrites %s byte for byte when nothing changed', async (name) => {
    const text = await readFile(fixturePath(name), 'utf8');
    expect(serializeJson(JSON.parse(text), formatOf(text))).toBe(text);
  });

  it('keeps tabs, CRLF and a trailing newline written by other tools', () => {
    const text = '{\r\n\t"tasks": [\r\n\t\t1\r\n\t]\r\n}\r\n';
    expect(formatOf(text)).toEqual({ indent: '\t', eol: '\r\n', trailing: '\r\n' });
    expect(serializeJson(JSON.parse(text), formatOf(text))).toBe(text);
  });
});
