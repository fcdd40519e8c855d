import { chmod, copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { claudeArguments, createClaudeCodeProvider } from './claude-code-provider.js';
import type { ClaudeCodeProviderOptions } from './claude-code-provider.js';
import { CallCancelledError, ModelError } from './model-error.js';
import type { ModelRequest } from './provider.js';

const FAKE_CLAUDE = fileURLToPath(new URL('../testing/fake-claude.mjs', import.meta.url));

let dir: string;
let bin: string;
let workdir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orc-claude-code-'));
  bin = join(dir, 'bin');
  workdir = join(dir, 'work');
  await mkdir(bin);
  await mkdir(workdir);
  // A copy named `claude`, first on PATH, as a user's install would be.
  await copyFile(FAKE_CLAUDE, join(bin, 'claude'));
  await chmod(join(bin, 'claude'), 0o755);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function provider(fake: Record<string, string> = {}, overrides: Partial<ClaudeCodeProviderOptions> = {}) {
  return createClaudeCodeProvider({
    flags: {},
    env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` },
    environment: fake,
    ...overrides,
  });
}

function request(overrides: Partial<ModelRequest> = {}): ModelRequest {
  return {
    purpose: 'work',
    model: 'claude-sonnet-5-5',
    system: 'You are a careful worker.',
    prompt: 'Task: write the notes.',
    maxTokens: 1000,
    signal: new AbortController().signal,
    workdir,
    ...overrides,
  };
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

/** Alive and not a zombie: in a container nobody may reap an orphan, and a zombie does no harm. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

async function waitFor<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((done) => setTimeout(done, 25));
  }
}

describe('claudeArguments', () => {
  it('maps each config flag to the CLI flag, and skips permissions only on explicit opt-in', () => {
    expect(
      claudeArguments('claude-sonnet-5-5', {
        permission_mode: 'acceptEdits',
        dangerously_skip_permissions: true,
        allowed_tools: ['Edit', 'Bash(npm test:*)'],
        disallowed_tools: ['WebFetch'],
        max_turns: 12,
        add_dirs: ['/a', '/b'],
      }),
    ).toEqual([
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
      '--model',
      'claude-sonnet-5-5',
      '--permission-mode',
      'acceptEdits',
      '--dangerously-skip-permissions',
      '--allowedTools',
      'Edit',
      'Bash(npm test:*)',
      '--disallowedTools',
      'WebFetch',
      '--max-turns',
      '12',
      '--add-dir',
      '/a',
      '--add-dir',
      '/b',
    ]);
    expect(claudeArguments('m', { dangerously_skip_permissions: false })).not.toContain(
      '--dangerously-skip-permissions',
    );
  });
});

describe('createClaudeCodeProvider', () => {
  it('runs claude in the workdir with the prompt on stdin and returns its result, usage and cost', async () => {
    const argsFile = join(dir, 'args.json');
    const seen: string[] = [];
    const response = await provider(
      { FAKE_CLAUDE_ARGS_FILE: argsFile },
      { flags: { permission_mode: 'acceptEdits', max_turns: 5 } },
    ).complete(
      request({
        prompt: 'WRITE src/notes.md: # Notes\\nfirst\nAPPEND src/notes.md: second\nSAY All written.',
        onText: (text) => seen.push(text),
      }),
    );

    expect(await readFile(join(workdir, 'src/notes.md'), 'utf8')).toBe('# Notes\nfirstsecond');
    const call = JSON.parse(await readFile(argsFile, 'utf8')) as {
      argv: string[];
      cwd: string;
      stdin: string;
    };
    expect(call.argv).toEqual([
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
      '--model',
      'claude-sonnet-5-5',
      '--permission-mode',
      'acceptEdits',
      '--max-turns',
      '5',
    ]);
    expect(call.stdin.startsWith('You are a careful worker.\n\nWRITE src/notes.md')).toBe(true);
    expect(seen.join('')).toBe(
      '→ Write src/notes.md\n→ Edit src/notes.md\nAll written.\nAll written.\nDone: 2 changes.\n',
    );

    expect(response.text).toBe('All written.\nDone: 2 changes.');
    expect(response.stopReason).toBe('success');
    expect(response.usage).toEqual({
      inputTokens: Math.ceil(call.stdin.length / 4),
      outputTokens: 40,
      cacheReadTokens: 12000,
      cacheWriteTokens: 1500,
    });
    expect(response.costUsd).toBeGreaterThan(0.0125);
    expect(response.meta).toMatchObject({ numTurns: 3, durationMs: 1234, model: 'claude-sonnet-5-5' });
    expect(response.meta?.sessionId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('says how to fix a missing claude command, as a permanent error', async () => {
    const error = await failure(provider({}, { command: 'claude-not-installed-here' }).complete(request()));
    expect(error).toBeInstanceOf(ModelError);
    expect(error).toMatchObject({ category: 'permanent' });
    expect((error as Error).message).toBe(
      'the claude command was not found (claude_cli.command = claude-not-installed-here); install Claude Code or set claude_cli.command',
    );
  });

  it('reports a non-zero exit as transient, with the code and the last stderr line', async () => {
    const error = await failure(provider({ FAKE_CLAUDE_MODE: 'exit1' }).complete(request()));
    expect(error).toMatchObject({ category: 'transient' });
    expect((error as Error).message).toBe('claude exited with code 1: connect ECONNREFUSED 127.0.0.1:443');
  });

  it('refuses output that is not stream-json, permanently', async () => {
    const error = await failure(provider({ FAKE_CLAUDE_MODE: 'garbage' }).complete(request()));
    expect(error).toMatchObject({ category: 'permanent' });
    expect((error as Error).message).toBe(
      'claude printed something that is not stream-json: Welcome to Claude Code! Type /help to get started.',
    );
  });

  it('pauses the run when claude is logged out or past its usage limit', async () => {
    for (const mode of ['is_error_auth', 'usage_limit']) {
      const error = await failure(provider({ FAKE_CLAUDE_MODE: mode }).complete(request()));
      expect(error).toBeInstanceOf(ModelError);
      expect(error).toMatchObject({ category: 'permanent', details: { pauseRun: true } });
    }
  });

  it('treats the turn limit as recoverable', async () => {
    const error = await failure(
      provider({ FAKE_CLAUDE_MODE: 'max_turns' }, { flags: { max_turns: 3 } }).complete(request()),
    );
    expect(error).toMatchObject({ category: 'recoverable' });
    expect((error as Error).message).toContain('claude_cli.max_turns = 3');
  });

  it('kills the whole process group on abort, even a claude that ignores SIGTERM', async () => {
    for (const ignoreTerm of [false, true]) {
      const pidFile = join(dir, `pids-${ignoreTerm}`);
      const controller = new AbortController();
      const call = provider(
        {
          FAKE_CLAUDE_MODE: 'slow',
          FAKE_CLAUDE_PID_FILE: pidFile,
          ...(ignoreTerm ? { FAKE_CLAUDE_IGNORE_TERM: '1' } : {}),
        },
        { killGraceMs: 200 },
      ).complete(request({ signal: controller.signal }));
      const pids = await waitFor(async () => {
        const text = await readFile(pidFile, 'utf8').catch(() => '');
        return text ? text.split(' ').map(Number) : undefined;
      });
      expect(pids.every(isAlive)).toBe(true);

      controller.abort();
      expect(await failure(call)).toBeInstanceOf(CallCancelledError);
      await waitFor(() => (pids.some(isAlive) ? undefined : true));
      expect(pids.some(isAlive)).toBe(false);
    }
  });

  it('stops a call that runs past its time limit, as recoverable, and kills its group', async () => {
    const pidFile = join(dir, 'pids');
    const call = provider(
      { FAKE_CLAUDE_MODE: 'slow', FAKE_CLAUDE_PID_FILE: pidFile },
      { timeoutMs: 1500 },
    ).complete(request());
    // The pids are read while the agent still runs (node may start slowly on a busy machine).
    const pids = await waitFor(async () => {
      const text = await readFile(pidFile, 'utf8').catch(() => '');
      return text ? text.split(' ').map(Number) : undefined;
    });
    const error = await failure(call);
    expect(error).toMatchObject({ category: 'recoverable' });
    expect((error as Error).message).toBe('claude did not finish within 1.5s and was stopped');
    await waitFor(() => (pids.some(isAlive) ? undefined : true));
  });

  it('stop() ends every call in flight', async () => {
    const pidFile = join(dir, 'pids');
    const claude = provider({ FAKE_CLAUDE_MODE: 'slow', FAKE_CLAUDE_PID_FILE: pidFile });
    const call = claude.complete(request());
    await waitFor(async () => ((await readFile(pidFile, 'utf8').catch(() => '')) ? true : undefined));
    await claude.stop();
    expect(await failure(call)).toBeInstanceOf(CallCancelledError);
  });

  it('does not start when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const argsFile = join(dir, 'args.json');
    const error = await failure(
      provider({ FAKE_CLAUDE_ARGS_FILE: argsFile }).complete(request({ signal: controller.signal })),
    );
    expect(error).toBeInstanceOf(CallCancelledError);
    await expect(readFile(argsFile)).rejects.toThrow();
  });
});
