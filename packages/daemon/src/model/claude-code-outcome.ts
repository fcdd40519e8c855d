import type { ModelUsage, SDKRateLimitInfo, SDKResultMessage } from '@anthropic-ai/claude-agent-sdk';
import { formatCost, type Usage } from '@orc/shared';
import { ModelError } from './model-error.js';

/** The `claude_cli` limits a failure message names, so it can say which setting to change. */
export interface OutcomeContext {
  maxTurns?: number;
  budgetUsd?: number;
  /** The last `rate_limit_event` Claude Code reported, if it refused the call. */
  rateLimit?: SDKRateLimitInfo;
  now: number;
}

/**
 * Why a Claude Code turn did not succeed, classified once: a usage limit pauses the run until it resets
 * (`quota`), the run's budget pauses it (`budget`), a login or billing problem needs a person
 * (`provider`), the turn limit may pass with more room, and anything else is worth a retry.
 */
export function classifyFailure(result: SDKResultMessage, context: OutcomeContext): ModelError {
  const text = (result.subtype === 'success' ? result.result : result.errors.join('; ')).trim();
  const said = text ? `: ${text.slice(0, 300)}` : ` (${result.subtype})`;
  if (result.subtype === 'error_max_turns') {
    return new ModelError(
      'recoverable',
      `Claude Code stopped at the turn limit (claude_cli.max_turns = ${context.maxTurns ?? 'unset'}, ${result.num_turns} turns)`,
    );
  }
  if (result.subtype === 'error_max_budget_usd') {
    // The attempt's share: other attempts under way hold the rest of what the run has left.
    const budget =
      context.budgetUsd === undefined
        ? ''
        : ` (the ${formatCost(context.budgetUsd)} of it this attempt was given)`;
    return new ModelError(
      'permanent',
      `Claude Code stopped at the run's budget${budget}; orc resume <run> --budget <usd> goes on`,
      { pauseRun: true, pauseReason: 'budget' },
    );
  }
  if (result.subtype === 'error_max_structured_output_retries') {
    return new ModelError('recoverable', `Claude Code gave no answer that matches the schema${said}`);
  }
  const status = result.subtype === 'success' ? result.api_error_status : undefined;
  const limit = usageLimit(text, status, context);
  if (limit) {
    return new ModelError('permanent', `Claude Code reached a usage limit${said}`, {
      pauseRun: true,
      pauseReason: 'quota',
      ...(limit.resetsAt !== undefined && { resumeAt: limit.resetsAt }),
    });
  }
  if (status === 401 || /invalid api key|authentication|please run \/login|not logged in/i.test(text)) {
    return new ModelError('permanent', `Claude Code cannot work until someone logs in${said}`, {
      pauseRun: true,
    });
  }
  if (/credit balance|billing/i.test(text)) {
    return new ModelError('permanent', `Claude Code cannot work until someone acts${said}`, {
      pauseRun: true,
    });
  }
  if (status === 429 || /rate limit|overloaded/i.test(text) || status === 529) {
    return new ModelError('transient', `Claude Code was rate limited${said}`, { rateLimited: true });
  }
  return new ModelError('transient', `Claude Code reported an error${said}`);
}

/**
 * A usage limit of the account (not a short rate limit): Claude Code's `rate_limit_event` said it refused
 * the call, or its message says a limit was hit. The reset comes from the event, else from the message
 * ("resets 2:16am (UTC)", or the older "usage limit reached|<epoch seconds>").
 */
export function usageLimit(
  text: string,
  status: number | null | undefined,
  context: Pick<OutcomeContext, 'rateLimit' | 'now'>,
): { resetsAt?: number } | undefined {
  const refused = context.rateLimit?.status === 'rejected';
  const limitText = /usage limit|hit your (?:[\w-]+ )?limit|limit reached/i.test(text);
  if (!refused && !limitText) return undefined;
  if (!refused && status !== undefined && status !== null && status !== 429) return undefined;
  const fromEvent = context.rateLimit?.resetsAt;
  if (refused && fromEvent !== undefined) return { resetsAt: fromEvent * 1000 };
  const epoch = /\|(\d{10})\b/.exec(text)?.[1];
  if (epoch !== undefined) return { resetsAt: Number(epoch) * 1000 };
  const clock = /resets (?:at )?(\d{1,2})(?::(\d{2}))?\s*(am|pm)?(?:\s*\(([^)]+)\))?/i.exec(text);
  if (clock) {
    const at = nextWallClock(clock, context.now);
    if (at !== undefined) return { resetsAt: at };
  }
  return {};
}

/** The next instant after `now` when the clock in the named zone (UTC without one) shows the time. */
function nextWallClock(match: RegExpExecArray, now: number): number | undefined {
  let hour = Number(match[1]);
  const minute = Number(match[2] ?? 0);
  const meridiem = match[3]?.toLowerCase();
  if (meridiem === 'pm' && hour < 12) hour += 12;
  if (meridiem === 'am' && hour === 12) hour = 0;
  if (hour > 23 || minute > 59) return undefined;
  const zone = match[4] ?? 'UTC';
  let offsetMs: number;
  try {
    offsetMs = zoneOffsetMs(zone, now);
  } catch {
    return undefined;
  }
  // Midnight of today in the zone, as UTC, then the wall time on it; tomorrow's if that has passed.
  const local = new Date(now + offsetMs);
  const midnight = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate()) - offsetMs;
  let at = midnight + (hour * 60 + minute) * 60_000;
  if (at <= now) at += 24 * 3_600_000;
  return at;
}

/** How far the zone's clock is ahead of UTC at `at` (ms). Throws on an unknown zone. */
function zoneOffsetMs(timeZone: string, at: number): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(new Date(at));
  const part = (type: string): number => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const asUtc = Date.UTC(
    part('year'),
    part('month') - 1,
    part('day'),
    part('hour'),
    part('minute'),
    part('second'),
  );
  return asUtc - Math.floor(at / 1000) * 1000;
}

/**
 * The tokens of a query: `modelUsage` covers every model call of the turn (subagents, compaction); the
 * main loop's `usage` is the fallback for a result without it.
 */
export function usageOf(result: SDKResultMessage): Usage {
  const models: ModelUsage[] = Object.values(result.modelUsage ?? {});
  if (models.length > 0) {
    return models.reduce<Usage>(
      (sum, m) => ({
        inputTokens: sum.inputTokens + m.inputTokens,
        outputTokens: sum.outputTokens + m.outputTokens,
        cacheReadTokens: sum.cacheReadTokens + m.cacheReadInputTokens,
        cacheWriteTokens: sum.cacheWriteTokens + m.cacheCreationInputTokens,
      }),
      { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 },
    );
  }
  const usage = result.usage;
  return {
    inputTokens: usage.input_tokens ?? 0,
    outputTokens: usage.output_tokens ?? 0,
    cacheReadTokens: usage.cache_read_input_tokens ?? 0,
    cacheWriteTokens: usage.cache_creation_input_tokens ?? 0,
  };
}

/**
 * An error from starting Claude Code, in words that name the fix. The SDK's own messages speak of its
 * options (`pathToClaudeCodeExecutable`), which a user of orc sets as `claude_cli.command`.
 */
export function startFailure(error: unknown, command: string | undefined): ModelError | undefined {
  const message = error instanceof Error ? error.message : String(error);
  if (/Native CLI binary for \S+ not found/.test(message)) {
    return new ModelError(
      'permanent',
      `Claude Code is not installed: the Agent SDK's binary for ${process.platform}-${process.arch} ` +
        `(@anthropic-ai/claude-agent-sdk-${process.platform}-${process.arch}) is missing; run npm install ` +
        `without --omit=optional, or set claude_cli.command to a claude executable`,
    );
  }
  if (/executable not found at|exists but failed to launch/.test(message)) {
    return new ModelError(
      'permanent',
      command === undefined
        ? `the Claude Code binary could not be started (${message.split('.')[0]}); reinstall @anthropic-ai/claude-agent-sdk or set claude_cli.command`
        : `the claude command could not be started (claude_cli.command = ${command}); install Claude Code there or unset claude_cli.command to use the bundled one`,
    );
  }
  return undefined;
}
