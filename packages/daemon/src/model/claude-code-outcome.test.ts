import type { SDKResultMessage } from '@anthropic-ai/claude-agent-sdk';
import { describe, expect, it } from 'vitest';
import { classifyFailure, startFailure, usageLimit, usageOf } from './claude-code-outcome.js';

const NOW = Date.parse('2026-11-30T01:00:00Z');

/** A result as Claude Code writes it, the fields the classification reads. */
function result(fields: Record<string, unknown>): SDKResultMessage {
  return {
    type: 'result',
    subtype: 'success',
    is_error: true,
    result: '',
    errors: [],
    num_turns: 1,
    api_error_status: null,
    usage: { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
    modelUsage: {},
    ...fields,
  } as unknown as SDKResultMessage;
}

describe('classifyFailure', () => {
  it('a usage limit pauses the run (quota) until the reset Claude Code reported', () => {
    const error = classifyFailure(
      result({ result: "You've hit your 5-hour limit · resets 2:16am (UTC)", api_error_status: 429 }),
      { now: NOW, rateLimit: { status: 'rejected', resetsAt: 1_796_004_970 } },
    );
    expect(error.category).toBe('permanent');
    expect(error.details).toEqual({ pauseRun: true, pauseReason: 'quota', resumeAt: 1_796_004_970_000 });
    expect(error.message).toBe(
      "Claude Code reached a usage limit: You've hit your 5-hour limit · resets 2:16am (UTC)",
    );
  });

  it('a plain 429 is a rate limit to back off from, not a pause', () => {
    const error = classifyFailure(
      result({ result: 'API Error: Request rejected (429) · Rate limited', api_error_status: 429 }),
      { now: NOW },
    );
    expect(error.category).toBe('transient');
    expect(error.details).toEqual({ rateLimited: true });
  });

  it('the turn limit, the budget, the schema and a login each say what to change', () => {
    const turns = classifyFailure(result({ subtype: 'error_max_turns', num_turns: 3 }), {
      now: NOW,
      maxTurns: 3,
    });
    expect(turns.category).toBe('recoverable');
    expect(turns.message).toBe('Claude Code stopped at the turn limit (claude_cli.max_turns = 3, 3 turns)');
    const budget = classifyFailure(result({ subtype: 'error_max_budget_usd' }), { now: NOW, budgetUsd: 0.5 });
    expect(budget.details).toEqual({ pauseRun: true, pauseReason: 'budget' });
    expect(budget.message).toContain("stopped at the run's budget (the $0.50 of it this attempt was given)");
    const schema = classifyFailure(result({ subtype: 'error_max_structured_output_retries' }), { now: NOW });
    expect(schema.category).toBe('recoverable');
    const login = classifyFailure(
      result({ result: 'Invalid API key · Please run /login', api_error_status: 401 }),
      {
        now: NOW,
      },
    );
    expect(login.details).toEqual({ pauseRun: true });
    expect(login.message).toMatch(/^Claude Code cannot work until someone logs in: Invalid API key/);
    const other = classifyFailure(result({ subtype: 'error_during_execution', errors: ['boom'] }), {
      now: NOW,
    });
    expect(other.category).toBe('transient');
    expect(other.message).toBe('Claude Code reported an error: boom');
  });
});

describe('usageLimit', () => {
  it('reads the reset from the older "limit reached|<epoch>" text', () => {
    expect(usageLimit('Claude AI usage limit reached|1767225600', 429, { now: NOW })).toEqual({
      resetsAt: 1_767_225_600_000,
    });
  });

  it('reads "resets <time> (<zone>)" as the next such time in that zone', () => {
    expect(usageLimit("You've hit your limit · resets 2:16am (UTC)", 429, { now: NOW })).toEqual({
      resetsAt: Date.parse('2026-11-30T02:16:00Z'),
    });
    // 5pm in New York (UTC-5 in November) is 22:00 UTC, still today.
    expect(usageLimit("You've hit your limit · resets 5pm (America/New_York)", 429, { now: NOW })).toEqual({
      resetsAt: Date.parse('2026-11-30T22:00:00Z'),
    });
    // 00:30 UTC has passed: tomorrow's.
    expect(usageLimit('Usage limit reached · resets 12:30am (UTC)', 429, { now: NOW })).toEqual({
      resetsAt: Date.parse('2026-12-01T00:30:00Z'),
    });
  });

  it('is a limit without a known reset when the text gives none, and none for other errors', () => {
    expect(usageLimit("You've hit your limit", 429, { now: NOW })).toEqual({});
    expect(usageLimit('API Error: Request rejected (429) · Rate limited', 429, { now: NOW })).toBeUndefined();
    expect(usageLimit('the usage limit section of the docs', 500, { now: NOW })).toBeUndefined();
  });
});

describe('startFailure', () => {
  it('names the package to install when the Agent SDK has no binary for this platform', () => {
    const error = startFailure(
      new Error(
        'Native CLI binary for linux-x64 not found. Reinstall @anthropic-ai/claude-agent-sdk without --omit=optional, or set options.pathToClaudeCodeExecutable.',
      ),
      undefined,
    );
    expect(error?.category).toBe('permanent');
    expect(error?.message).toBe(
      `Claude Code is not installed: the Agent SDK's binary for ${process.platform}-${process.arch} ` +
        `(@anthropic-ai/claude-agent-sdk-${process.platform}-${process.arch}) is missing; run npm install ` +
        `without --omit=optional, or set claude_cli.command to a claude executable`,
    );
    expect(error?.message).not.toContain('\n');
    expect(startFailure(new Error('something else'), undefined)).toBeUndefined();
  });
});

describe('usageOf', () => {
  it('adds up every model of the turn, subagents and compaction included', () => {
    const usage = usageOf(
      result({
        modelUsage: {
          'claude-sonnet-5-5': {
            inputTokens: 10,
            outputTokens: 5,
            cacheReadInputTokens: 100,
            cacheCreationInputTokens: 7,
          },
          'claude-haiku-5': {
            inputTokens: 3,
            outputTokens: 2,
            cacheReadInputTokens: 0,
            cacheCreationInputTokens: 0,
          },
        },
      }),
    );
    expect(usage).toEqual({ inputTokens: 13, outputTokens: 7, cacheReadTokens: 100, cacheWriteTokens: 7 });
  });
});
