import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startFakeAnthropicServer, type FakeAnthropicServer } from '@orc/test-support';
import type { RunSummary } from '@orc/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TmuxPane } from './tmux.js';

/**
 * A run waiting for its quota as a user sees it: a real daemon on the Anthropic stand-in, whose first
 * answer is a 429 asking to retry in an hour. `orc ls`, `orc show` and the terminal UI say until when.
 */
const root = path.resolve(import.meta.dirname, '../..');
const orc = path.join(root, 'packages/tui/dist/cli/main.js');
const KEY = 'sk-ant-test-quota-wait-000000000000';

describe('a run waiting for its quota', () => {
  let home: string;
  let server: FakeAnthropicServer;
  let pane: TmuxPane | undefined;
  // Times are shown in the reader's zone: UTC here, so the test knows what to expect.
  const env = () => ({ ...process.env, ORC_HOME: home, NO_COLOR: '1', TZ: 'UTC', ANTHROPIC_API_KEY: KEY });
  const cli = (...args: string[]) =>
    execFileSync('node', [orc, ...args], { cwd: home, env: env(), encoding: 'utf8' });

  beforeEach(async () => {
    home = mkdtempSync(path.join(os.tmpdir(), 'orc-quota-home-'));
    server = await startFakeAnthropicServer({ apiKey: KEY, latencyMs: 50 });
    writeFileSync(
      path.join(home, 'orc.config.json'),
      JSON.stringify({
        models: { provider: 'anthropic', base_url: server.url },
        execution: { max_workers: 2 },
      }),
    );
    writeFileSync(
      path.join(home, 'tasks.json'),
      JSON.stringify([
        { id: 'a', title: 'First section' },
        { id: 'b', title: 'Second section' },
      ]),
    );
  });
  afterEach(async () => {
    pane?.kill();
    try {
      cli('daemon', 'stop');
    } catch {
      // not running
    }
    await server.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('shows "waiting for quota until HH:MM" in ls, show and the terminal UI', async () => {
    expect(TmuxPane.available(), 'tmux is needed for the screen tests').toBe(true);
    cli('daemon', 'start');
    server.failNext({ status: 429, retryAfterSec: 3600 });
    const runId = (JSON.parse(cli('run', 'tasks.json', '--detach', '--json')) as { id: string }).id;
    let summary: RunSummary | undefined;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      summary = (JSON.parse(cli('ls', '--json')) as RunSummary[]).find((r) => r.id === runId);
      if (summary?.status === 'paused') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(summary).toMatchObject({
      status: 'paused',
      pauseReason: 'quota',
      quotaModel: 'claude-sonnet-5-5',
    });
    const until = summary!.resumeAt!;
    expect(Date.parse(until) - Date.now()).toBeGreaterThan(3500_000);
    const hhmm = until.slice(11, 16);

    const ls = cli('ls');
    expect(ls).toMatch(/^ID +STATUS +AGE +TIME +COST +FORECAST +DONE +GOAL$/m);
    expect(ls).toMatch(new RegExp(`^${runId} +waiting for quota until ${hhmm} `, 'm'));
    const show = cli('show', runId);
    expect(show.split('\n')[0]).toBe(
      `run ${runId} waiting for quota until ${hhmm} (claude-sonnet-5-5, at ${until}; orc resume goes on now)`,
    );

    pane = new TmuxPane(`node ${orc} attach ${runId}`, {
      cwd: home,
      env: { TERM: 'xterm-256color', LANG: 'C.UTF-8', ORC_HOME: home, TZ: 'UTC' },
    });
    const screen = await pane.waitFor((s) => /ID +TITLE +STATUS/.test(s), 'header and table', 15_000);
    expect(screen).toMatch(new RegExp(`^WAITING FOR QUOTA UNTIL ${hhmm} `, 'm'));
    expect(screen).toContain(`Waiting for the quota of claude-sonnet-5-5. It goes on by itself at ${hhmm}.`);
    // Nothing failed meanwhile: the refused call is the only one the stand-in answered 429.
    expect(server.statusCounts[429]).toBe(1);
    pane.keys('q');
    await pane.waitFor((s) => s.includes('[exit 0]'), 'orc attach to exit');
    cli('cancel', runId);
  }, 90_000);
});
