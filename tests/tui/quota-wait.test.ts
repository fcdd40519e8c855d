import { startFakeAnthropicServer, type FakeAnthropicServer } from '@orc/test-support';
import type { RunSummary } from '@orc/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectScreenTools, ScreenSandbox } from './screen-sandbox.js';

/**
 * A run waiting for its quota as a user sees it: a real daemon on the Anthropic stand-in, whose first
 * answer is a 429 asking to retry in an hour. `orc ls`, `orc show` and the terminal UI say until when.
 */
const KEY = 'sk-ant-test-quota-wait-000000000000';

describe('a run waiting for its quota', () => {
  let box: ScreenSandbox;
  let server: FakeAnthropicServer;
  const cli = (...args: string[]) => box.cli(...args);

  beforeEach(async () => {
    // Times are shown in the reader's zone: UTC here, so the test knows what to expect.
    box = new ScreenSandbox('quota', { shared: true, env: { TZ: 'UTC', ANTHROPIC_API_KEY: KEY } });
    server = await startFakeAnthropicServer({ apiKey: KEY, latencyMs: 50 });
    box.writeConfig({
      models: { provider: 'anthropic', base_url: server.url },
      execution: { max_workers: 2 },
    });
    box.write('tasks.json', [
      { id: 'a', title: 'First section' },
      { id: 'b', title: 'Second section' },
    ]);
  });
  afterEach(async () => {
    box.cleanup();
    await server.close();
  });

  it('shows "waiting for quota until HH:MM" in ls, show and the terminal UI', async () => {
    expectScreenTools();
    cli('daemon', 'start');
    server.failNext({ status: 429, retryAfterSec: 3600 });
    const runId = box.start('tasks.json');
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
    // A wait that ends on another day than the CLI's today names that day (in UTC, the zone the CLI was
    // given). Today is read before and after the CLI, which may run either side of midnight.
    const showLine = (today: string) =>
      `run ${runId} waiting for quota until ${hhmm}${until.slice(0, 10) === today ? '' : ` on ${until.slice(0, 10)}`} (claude-sonnet-5-5, at ${until}; orc resume goes on now)`;
    const today = () => new Date().toISOString().slice(0, 10);

    const ls = cli('ls');
    expect(ls).toMatch(/^ID +STATUS +AGE +TIME +COST +FORECAST +DONE +GOAL$/m);
    expect(ls).toMatch(new RegExp(`^${runId} +waiting for quota until ${hhmm} `, 'm'));
    const before = today();
    const show = cli('show', runId);
    expect([showLine(before), showLine(today())]).toContain(show.split('\n')[0]);

    const pane = box.attach(runId);
    const screen = await pane.waitFor((s) => /ID +TITLE +STATUS/.test(s), 'header and table', 15_000);
    expect(screen).toMatch(new RegExp(`^WAITING FOR QUOTA UNTIL ${hhmm} `, 'm'));
    const notice = (today: string) =>
      `Waiting for the quota of claude-sonnet-5-5. It goes on by itself at ${hhmm}${until.slice(0, 10) === today ? '' : ` on ${until.slice(0, 10)}`}.`;
    const onScreen = [notice(before), notice(today())].filter((text) => screen.includes(text));
    expect(onScreen.length).toBeGreaterThan(0);
    // Nothing failed meanwhile: the refused call is the only one the stand-in answered 429.
    expect(server.statusCounts[429]).toBe(1);
    pane.keys('q');
    await pane.waitFor((s) => s.includes('[exit 0]'), 'orc attach to exit');
    cli('cancel', runId);
  }, 90_000);
});
