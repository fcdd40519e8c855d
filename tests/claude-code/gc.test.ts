import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ClaudeSandbox, alive, extraWorktrees, filesAt, waitUntil } from './claude-sandbox.js';

let sb: ClaudeSandbox | undefined;

afterEach(async () => {
  await sb?.cleanup();
  sb = undefined;
});

interface GcOutput {
  removed: { path: string; keptOn?: string }[];
  inUse: { path: string; runId: string }[];
  orphaned: string[];
}

describe('orc gc (built CLI, real daemon, real Claude Code)', () => {
  it('from any directory: keeps the worktree of a live run and of one a crash left to resume, removes a forgotten run’s keeping its work, starts no daemon', async () => {
    sb = await ClaudeSandbox.create();
    const box = sb;
    const repo = await box.repo();
    const gate = 'gc-gate';
    const cwd = await box.runFolder([
      { id: 'slow', lines: ['WRITE partial.txt: half done\\n', `HANG ${gate}`, 'WRITE final.txt: done\\n'] },
    ]);
    const runId = await box.detach(cwd, repo);
    await waitUntil('the agent waits at the gate', () => box.standIn.waiting(gate) === 1, 30_000);
    const worktree = box.worktree(runId, 'slow', 1)!;
    // In the state directory, outside the repository and its .git directory.
    expect(worktree.startsWith(join(box.home, 'worktrees'))).toBe(true);
    const agent = box.agentPid(worktree)!;
    // Anywhere: gc finds the repositories from the worktrees in the state directory.
    const elsewhere = await box.folder('elsewhere');

    // The run is live: its agent is at work in the worktree, which gc must not pull from under it.
    const live = await box.orc(['gc', '--json'], elsewhere);
    expect(live.code, live.stderr).toBe(0);
    const kept = JSON.parse(live.stdout) as GcOutput;
    expect(kept).toEqual({ removed: [], inUse: [{ path: worktree, runId }], orphaned: [] });
    expect(existsSync(join(worktree, 'partial.txt'))).toBe(true);
    expect(alive(agent)).toBe(true);
    const human = await box.orc(['gc', '--workdir', repo]);
    expect(human.stdout).toContain(`kept ${worktree}: run ${runId} is still going`);

    // A crash: the daemon is gone, the run not finished. The daemon resumes it when it starts, the attempt's
    // session in this worktree: gc stops the agent the crash left running, and keeps the worktree.
    const daemon = (await box.box.daemonPid())!;
    process.kill(daemon, 'SIGKILL');
    await waitUntil('the daemon is gone', () => !alive(daemon));
    box.forgetClient();
    const crashed = await box.orc(['gc', '--json'], elsewhere);
    expect(crashed.code, crashed.stderr).toBe(0);
    expect(JSON.parse(crashed.stdout)).toEqual({
      removed: [],
      inUse: [{ path: worktree, runId }],
      orphaned: [],
    });
    expect(alive(agent)).toBe(false);
    expect(existsSync(join(worktree, 'partial.txt'))).toBe(true);
    const said = await box.orc(['gc'], elsewhere);
    expect(said.stdout).toContain(
      `kept ${worktree}: run ${runId} has not finished: it goes on there when the daemon starts (orc daemon start)`,
    );
    // gc started no daemon: daemon.json still names the dead one.
    expect(await box.box.daemonPid()).toBe(daemon);
    expect(alive(daemon)).toBe(false);

    // The run forgotten (its folder and index entry gone, as if the state were lost): its worktree is
    // garbage now, removed with its work kept on the attempt branch.
    const index = join(box.home, 'runs', 'index.json');
    const entries = JSON.parse(await readFile(index, 'utf8')) as { runs: { id: string }[] };
    entries.runs = entries.runs.filter((run) => run.id !== runId);
    await writeFile(index, JSON.stringify(entries));
    await rm(join(box.home, 'runs', runId), { recursive: true });
    const dead = await box.orc(['gc', '--json'], elsewhere);
    expect(dead.code, dead.stderr).toBe(0);
    const cleaned = JSON.parse(dead.stdout) as GcOutput;
    expect(cleaned.inUse).toEqual([]);
    expect(cleaned.removed).toEqual([
      expect.objectContaining({ path: worktree, keptOn: `orc/${runId}-attempts/slow/1` }),
    ]);
    expect(existsSync(worktree)).toBe(false);
    expect(box.runWorktrees(runId)).toBeUndefined();
    expect(await extraWorktrees(repo)).toEqual([]);
    expect(await filesAt(repo, `orc/${runId}-attempts/slow/1`)).toMatchObject({
      'partial.txt': 'half done\n',
    });
  });
});
