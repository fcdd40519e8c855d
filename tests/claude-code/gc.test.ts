import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ClaudeSandbox, alive, extraWorktrees, filesAt, killGroup, waitUntil } from './claude-sandbox.js';

let sb: ClaudeSandbox | undefined;

afterEach(async () => {
  await sb?.cleanup();
  sb = undefined;
});

interface GcOutput {
  repo: string;
  removed: { path: string; keptOn?: string }[];
  inUse: { path: string; runId: string }[];
}

describe('orc gc (built CLI, real daemon)', () => {
  it('keeps the worktree of a live run, and removes a dead run’s keeping its work, without starting a daemon', async () => {
    sb = await ClaudeSandbox.create();
    const box = sb;
    const repo = await box.repo();
    const gate = join(box.home, 'gate');
    const pidFile = join(box.home, 'agent.pid');
    const cwd = await box.runFolder(
      [
        {
          id: 'slow',
          lines: ['WRITE partial.txt: half done\\n', `WAIT_FOR ${gate}`, 'WRITE final.txt: done\\n'],
        },
      ],
      { environment: { FAKE_CLAUDE_PID_FILE: pidFile } },
    );
    const runId = await box.detach(cwd, repo);
    const worktree = join(repo, '.git', 'orc-worktrees', runId, 'slow', 'attempt-1');
    await waitUntil('the agent waits at the gate', () => existsSync(pidFile));
    const agent = Number(await readFile(pidFile, 'utf8'));
    box.agentPids.add(agent);

    // The run is live: its agent is at work in the worktree, which gc must not pull from under it.
    const live = await box.orc(['gc', '--workdir', repo, '--json']);
    expect(live.code, live.stderr).toBe(0);
    const kept = JSON.parse(live.stdout) as GcOutput;
    expect(kept.removed).toEqual([]);
    expect(kept.inUse).toEqual([{ path: worktree, runId }]);
    expect(existsSync(join(worktree, 'partial.txt'))).toBe(true);
    expect(alive(agent)).toBe(true);
    const human = await box.orc(['gc', '--workdir', repo]);
    expect(human.stdout).toContain(`kept ${worktree}: run ${runId} is still going`);

    // A crash: daemon and agent gone, the worktree left behind. gc now cleans it up by itself.
    const daemon = (await box.box.daemonPid())!;
    process.kill(daemon, 'SIGKILL');
    killGroup(agent);
    await waitUntil('the daemon and the agent are gone', () => !alive(daemon) && !alive(agent));
    box.forgetClient();
    const dead = await box.orc(['gc', '--workdir', repo, '--json']);
    expect(dead.code, dead.stderr).toBe(0);
    const cleaned = JSON.parse(dead.stdout) as GcOutput;
    expect(cleaned.inUse).toEqual([]);
    expect(cleaned.removed).toEqual([
      expect.objectContaining({ path: worktree, keptOn: `orc/${runId}-attempts/slow/1` }),
    ]);
    expect(existsSync(worktree)).toBe(false);
    expect(await extraWorktrees(repo)).toEqual([]);
    expect(await filesAt(repo, `orc/${runId}-attempts/slow/1`)).toMatchObject({
      'partial.txt': 'half done\n',
    });
    // gc started no daemon: daemon.json still names the dead one.
    expect(await box.box.daemonPid()).toBe(daemon);
    expect(alive(daemon)).toBe(false);
    await writeFile(gate, '');
  });
});
