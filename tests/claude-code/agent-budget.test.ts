import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunSummary } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { RECORDING_CLAUDE } from '../support/real-claude.js';
import { ClaudeSandbox, taskStates } from './claude-sandbox.js';

let sb: ClaudeSandbox | undefined;
afterEach(async () => {
  await sb?.cleanup();
  sb = undefined;
});

describe("Claude Code agents under a run's budget (built CLI, real daemon, the real Claude Code)", () => {
  it("hands agents side by side shares of the run's remainder as --max-budget-usd, not each the whole", async () => {
    // Two agents at once under $5 were each started with --max-budget-usd 5: together they could spend $10.
    sb = await ClaudeSandbox.create();
    const repo = await sb.repo();
    const log = join(sb.home, 'claude-args.jsonl');
    const cwd = await sb.runFolder(
      ['a', 'b'].map((id) => ({ id, lines: [`WRITE notes/${id}.txt: made by ${id}\\n`] })),
      { workers: 2, maxCostUsd: 5, command: RECORDING_CLAUDE, environment: { RECORDING_CLAUDE_LOG: log } },
    );
    const result = await sb.run(cwd, repo);
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as RunSummary;
    expect(summary.status).toBe('completed');
    expect(taskStates(await sb.view(summary.id))).toEqual({ a: 'done', b: 'done' });

    // What each agent was started with, as the real binary received it.
    const budgets = (await readFile(log, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as string[])
      .map((args) => {
        // `--max-budget-usd=2.49` or `--max-budget-usd 2.49`.
        const at = args.findIndex((arg) => arg.startsWith('--max-budget-usd'));
        return Number(args[at]!.includes('=') ? args[at]!.split('=')[1] : args[at + 1]);
      });
    expect(budgets).toHaveLength(2);
    expect(budgets.reduce((sum, usd) => sum + usd, 0)).toBeLessThanOrEqual(5);
    for (const usd of budgets) expect(usd).toBeGreaterThan(2);
  }, 90_000);
});
