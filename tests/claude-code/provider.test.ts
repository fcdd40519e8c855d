import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CallCancelledError, createClaudeCodeProvider, ModelError } from '@orc/daemon';
import type { ClaudeCodeProviderOptions, ModelRequest } from '@orc/daemon';
import { TaskReview, type ToolRefusal } from '@orc/shared';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startAgentStandIn, type AgentStandIn } from '../support/agent-stand-in.js';
import { BROKEN_CLAUDE, claudeHome, type ClaudeHome } from '../support/real-claude.js';
import { alive, waitUntil } from './claude-sandbox.js';

// The real Claude Code (the Agent SDK's bundled binary) against the stand-in model, offline.
let standIn: AgentStandIn;
let home: ClaudeHome;
let dir: string;
let workdir: string;

beforeAll(async () => {
  standIn = await startAgentStandIn();
});
afterAll(async () => {
  await standIn.close();
});
beforeEach(async () => {
  home = await claudeHome(standIn);
  dir = await mkdtemp(join(tmpdir(), 'orc-claude-code-'));
  workdir = join(dir, 'work');
  await mkdir(workdir);
});
afterEach(async () => {
  await home.remove();
  await rm(dir, { recursive: true, force: true });
});

function provider(overrides: Partial<ClaudeCodeProviderOptions> = {}) {
  return createClaudeCodeProvider({
    flags: { permission_mode: 'acceptEdits' },
    environment: home.environment,
    ...overrides,
  });
}

/** A worker's call; the stand-in reads the script from the lines after the `# Task` header. */
function work(lines: string[], overrides: Partial<ModelRequest> = {}): ModelRequest {
  return {
    purpose: 'work',
    model: 'claude-sonnet-5-5',
    system: 'You are a careful worker.',
    prompt: ['# Task t1: the task', ...lines].join('\n'),
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

describe('the claude-code provider with the real Claude Code', () => {
  it('writes a file in its working directory and reports the session first, then usage and cost', async () => {
    const events: string[] = [];
    const text: string[] = [];
    const response = await provider().complete(
      work(['WRITE notes/hello.txt: hello\\n'], {
        onSession: (id) => events.push(`session ${id}`),
        onText: (piece) => {
          text.push(piece);
          events.push('text');
        },
      }),
    );
    expect(await readFile(join(workdir, 'notes', 'hello.txt'), 'utf8')).toBe('hello\n');
    expect(response.text).toBe('Done: 1 tool call.');
    expect(events[0]).toMatch(/^session [0-9a-f-]{36}$/);
    expect(response.meta?.['sessionId']).toBe(events[0]!.slice('session '.length));
    expect(text).toContain('→ Write notes/hello.txt\n');
    expect(response.usage.inputTokens).toBeGreaterThan(0);
    expect(response.usage.outputTokens).toBeGreaterThan(0);
    expect(response.costUsd).toBeGreaterThan(0);
    // The stand-in saw the agent loop: the Write, then the turn after its result.
    const mine = standIn.requests.filter((r) => r.session === response.meta?.['sessionId']);
    expect(mine.map((r) => [r.step, r.answer])).toEqual([
      [0, 'Write'],
      [1, 'end_turn'],
    ]);
  });

  it('refuses a tool outside the permission mode, records the refusal, and the turn goes on', async () => {
    const refusals: ToolRefusal[] = [];
    const response = await provider().complete(
      work(['BASH curl -s http://example.invalid/', 'WRITE after.txt: went on\\n'], {
        onRefusal: (refusal) => refusals.push(refusal),
      }),
    );
    expect(refusals).toEqual([
      expect.objectContaining({ tool: 'Bash', subject: 'curl -s http://example.invalid/' }),
    ]);
    expect(refusals[0]!.reason).not.toBe('');
    expect(await readFile(join(workdir, 'after.txt'), 'utf8')).toBe('went on\n');
    expect(response.text).toBe('Done: 2 tool calls.');
  });

  it('runs what claude_cli.allowed_tools allows without asking', async () => {
    const refusals: ToolRefusal[] = [];
    await provider({ flags: { permission_mode: 'acceptEdits', allowed_tools: ['Bash'] } }).complete(
      work(['BASH curl -s http://127.0.0.1:9/ ; touch ran.txt'], { onRefusal: (r) => refusals.push(r) }),
    );
    expect(refusals).toEqual([]);
    expect(existsSync(join(workdir, 'ran.txt'))).toBe(true);
  });

  it('resumes an interrupted session: the work done before is not asked for again', async () => {
    const gate = `resume-${Date.now()}`;
    const lines = ['WRITE first.txt: one\\n', `HANG ${gate}`, 'WRITE second.txt: two\\n'];
    let session: string | undefined;
    const controller = new AbortController();
    const first = provider().complete(
      work(lines, { signal: controller.signal, onSession: (id) => (session = id) }),
    );
    await waitUntil('the agent waits at the gate', () => standIn.waiting(gate) === 1);
    controller.abort();
    expect(await failure(first)).toBeInstanceOf(CallCancelledError);
    expect(existsSync(join(workdir, 'first.txt'))).toBe(true);
    const before = standIn.requests.length;

    standIn.open(gate);
    const resumed = await provider().complete(work(['Go on.'], { resume: session! }));
    expect(resumed.meta?.['sessionId']).toBe(session);
    expect(await readFile(join(workdir, 'second.txt'), 'utf8')).toBe('two\n');
    // Only the turn that was in flight is asked again: the first Write is not.
    const after = standIn.requests.slice(before);
    expect(after.map((r) => [r.step, r.answer])).toEqual([
      [1, 'Write'],
      [2, 'end_turn'],
    ]);
  });

  it('a session that cannot be found is started afresh in the same working directory', async () => {
    const sessions: string[] = [];
    const text: string[] = [];
    const lost = '3f2b8c1e-1111-4222-8333-444455556666';
    const response = await provider().complete(
      work(['WRITE again.txt: again\\n'], {
        resume: lost,
        onSession: (id) => sessions.push(id),
        onText: (piece) => text.push(piece),
      }),
    );
    expect(await readFile(join(workdir, 'again.txt'), 'utf8')).toBe('again\n');
    expect(sessions).toHaveLength(2);
    expect(sessions[1]).not.toBe(lost);
    expect(response.meta?.['sessionId']).toBe(sessions[1]);
    expect(text).toContain(
      '(the interrupted session was not found; a new one goes on in the same worktree)\n',
    );
  });

  it('a usage limit fails the call as a quota pause with the reset time', async () => {
    await home.remove();
    home = await claudeHome(standIn, { subscription: true });
    const error = await failure(provider().complete(work(['LIMIT 3600', 'WRITE late.txt: later\\n'])));
    expect(error).toBeInstanceOf(ModelError);
    const details = (error as ModelError).details;
    expect(details).toMatchObject({ pauseRun: true, pauseReason: 'quota' });
    expect(Math.abs(details.resumeAt! - (Date.now() + 3_600_000))).toBeLessThan(5_000);
    expect((error as Error).message).toMatch(/^Claude Code reached a usage limit: You've hit your .*limit/);
    expect(existsSync(join(workdir, 'late.txt'))).toBe(false);
  });

  it('answers a manager call with schema-valid structured output and no tools', async () => {
    const response = await provider().complete({
      purpose: 'review',
      model: 'claude-opus-5-5',
      system: 'You are the manager.',
      prompt: 'Review the worker result.',
      maxTokens: 1000,
      outputSchema: TaskReview,
      signal: new AbortController().signal,
    });
    expect(TaskReview.parse(JSON.parse(response.text))).toEqual({
      verdict: 'accept',
      feedback: 'The change does what the task asks.',
    });
  });

  it('stops at the run budget: the call fails as a budget pause', async () => {
    const error = await failure(
      provider().complete(work(['WRITE a.txt: a\\n', 'WRITE b.txt: b\\n'], { budgetUsd: 0.000001 })),
    );
    expect(error).toBeInstanceOf(ModelError);
    expect((error as ModelError).details).toMatchObject({ pauseRun: true, pauseReason: 'budget' });
    expect((error as Error).message).toContain("stopped at the run's budget");
  });

  it('a cancel ends the agent and every process it started', async () => {
    const gate = `cancel-${Date.now()}`;
    const pidFile = join(workdir, 'sleeper.pid');
    const controller = new AbortController();
    const call = provider({ flags: { permission_mode: 'acceptEdits', allowed_tools: ['Bash'] } }).complete(
      work([`BASH (sleep 600 & echo $! > ${pidFile})`, `HANG ${gate}`], { signal: controller.signal }),
    );
    await waitUntil('the agent waits at the gate', () => standIn.waiting(gate) === 1);
    const sleeper = Number(readFileSync(pidFile, 'utf8'));
    expect(alive(sleeper)).toBe(true);
    controller.abort();
    expect(await failure(call)).toBeInstanceOf(CallCancelledError);
    await waitUntil('the tool process is gone', () => !alive(sleeper), 5_000);
    standIn.open(gate);
  });

  it('a hung agent is stopped at the timeout and the call fails as recoverable', async () => {
    const gate = `timeout-${Date.now()}`;
    const started = Date.now();
    const error = await failure(provider({ timeoutMs: 2_000 }).complete(work([`HANG ${gate}`])));
    expect(error).toBeInstanceOf(ModelError);
    expect((error as ModelError).category).toBe('recoverable');
    expect((error as Error).message).toBe('Claude Code did not finish within 2s and was stopped');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(standIn.waiting(gate)).toBe(0);
    standIn.open(gate);
  });

  it('names the setting to fix when claude_cli.command or the working directory is missing', async () => {
    const missing = await failure(provider({ command: join(dir, 'no-such-claude') }).complete(work([])));
    expect((missing as Error).message).toBe(
      `the claude command was not found (claude_cli.command = ${join(dir, 'no-such-claude')}); install Claude Code or unset claude_cli.command to use the one the Agent SDK bundles`,
    );
    const onPath = await failure(provider({ command: 'claude-not-installed-here' }).complete(work([])));
    expect((onPath as Error).message).toContain('(claude_cli.command = claude-not-installed-here)');
    const gone = await failure(provider().complete(work([], { workdir: join(dir, 'gone') })));
    expect((gone as Error).message).toBe(`the agent's working directory ${join(dir, 'gone')} does not exist`);
    for (const error of [missing, onPath, gone]) expect((error as ModelError).category).toBe('permanent');
  });
});

describe('the claude-code provider with a broken claude (faults the real one cannot show)', () => {
  const broken = (mode: string, extra: Record<string, string> = {}) =>
    provider({
      command: BROKEN_CLAUDE,
      environment: { BROKEN_CLAUDE_MODE: mode, ...extra },
      timeoutMs: 3_000,
      killGraceMs: 500,
    });

  it('a claude that exits 1 fails the call as transient, with what it said', async () => {
    const error = await failure(broken('exit1').complete(work([])));
    expect(error).toBeInstanceOf(ModelError);
    expect((error as ModelError).category).toBe('transient');
    expect((error as Error).message).toContain('connect ECONNREFUSED 127.0.0.1:443');
  });

  it('a claude that prints garbage fails the call', async () => {
    const error = await failure(broken('garbage').complete(work([])));
    expect(error).toBeInstanceOf(ModelError);
    expect((error as Error).message).toMatch(/^Claude Code failed: /);
  });

  it('a claude that ignores SIGTERM is killed with its process group after the grace period', async () => {
    const pidFile = join(dir, 'broken.pid');
    const error = await failure(
      broken('ignore-term', { BROKEN_CLAUDE_PID_FILE: pidFile }).complete(work([])),
    );
    expect((error as ModelError).category).toBe('recoverable');
    const [agent, child] = readFileSync(pidFile, 'utf8').split(' ').map(Number);
    await waitUntil('the agent and its child are gone', () => !alive(agent!) && !alive(child!), 5_000);
  });
});
