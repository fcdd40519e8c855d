import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AgentStandIn } from './agent-stand-in.js';

/** A hand-written `claude` for the faults the real one cannot be made to show (see the file). */
export const BROKEN_CLAUDE = resolve(import.meta.dirname, 'broken-claude.mjs');
/** The real Claude Code, its arguments written to RECORDING_CLAUDE_LOG first (recording-claude.mjs). */
export const RECORDING_CLAUDE = resolve(import.meta.dirname, 'recording-claude.mjs');

export interface ClaudeLogin {
  /**
   * A subscription login instead of an API key: usage limits, and the reset time Claude Code reads from
   * the API's `anthropic-ratelimit-unified-*` headers, exist only for subscriptions.
   */
  subscription?: boolean;
}

/**
 * What the real Claude Code (the Agent SDK's bundled binary) runs with in the tests: offline, its API at
 * the stand-in with a made-up key, no other traffic, and its config, sessions and home in `dir`, so
 * nothing touches the real home.
 */
export function claudeEnvironment(
  standIn: AgentStandIn,
  dir: string,
  login: ClaudeLogin = {},
): Record<string, string> {
  return {
    ANTHROPIC_BASE_URL: standIn.url,
    ...(login.subscription
      ? { CLAUDE_CODE_OAUTH_TOKEN: 'sk-ant-oat01-stand-in' }
      : { ANTHROPIC_API_KEY: 'sk-ant-test-stand-in' }),
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    CLAUDE_CONFIG_DIR: join(dir, 'claude'),
    HOME: dir,
  };
}

export interface ClaudeHome {
  dir: string;
  environment: Record<string, string>;
  remove(): Promise<void>;
}

/** A temp directory for one test's Claude Code, and the environment that points it there. */
export async function claudeHome(standIn: AgentStandIn, login: ClaudeLogin = {}): Promise<ClaudeHome> {
  const dir = await mkdtemp(join(tmpdir(), 'orc-claude-home-'));
  return {
    dir,
    environment: claudeEnvironment(standIn, dir, login),
    async remove() {
      stopClaudeProcesses(dir);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Kills every process that runs with its Claude Code home in `dir` (agents and what they started), which
 * a test's daemon, killed with SIGKILL, could not stop: tests clean up every process they start.
 */
export function stopClaudeProcesses(dir: string): void {
  const marker = Buffer.from(`CLAUDE_CONFIG_DIR=${join(dir, 'claude')}\0`);
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/environ`).includes(marker)) process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}
