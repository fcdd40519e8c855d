import { createOrchestrator, type Orchestrator } from '@orc/daemon';
import { startFakeAnthropicServer, tempHome, testConfig, type FakeAnthropicServer } from '@orc/test-support';
import { afterEach, describe, expect, it } from 'vitest';

const KEY = 'sk-ant-test-metrics-0123456789';
const opened: { orchestrator: Orchestrator; remove: () => Promise<void> }[] = [];
let server: FakeAnthropicServer | undefined;

afterEach(async () => {
  for (const { orchestrator, remove } of opened.splice(0)) {
    await orchestrator.close(0);
    await remove();
  }
  await server?.close();
  server = undefined;
});

/** An engine on the real Anthropic SDK against the stand-in, in a state directory of its own. */
async function open(url: string): Promise<Orchestrator> {
  const home = await tempHome('orc-metrics-');
  const orchestrator = await createOrchestrator({
    home: home.home,
    loaded: testConfig(home.home, {}, { ANTHROPIC_API_KEY: KEY }),
    config: {
      models: { provider: 'anthropic', base_url: url },
      execution: { max_workers: 2, max_retries: 5 },
    },
    retryBaseMs: 1,
  });
  opened.push({ orchestrator, remove: home.remove });
  return orchestrator;
}

function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('engine metrics over the real SDK', () => {
  it("counts the API's 429 and 529 answers, every call, and the run's tokens and cost; each engine its own", async () => {
    server = await startFakeAnthropicServer({ apiKey: KEY });
    const engine = await open(server.url);
    const other = await open(server.url);
    const worker = 'claude-sonnet-5-5';
    // A chain, so the faults hit t1's work calls in order.
    server.failNext({ status: 429, retryAfterSec: 1 }, { status: 529 }, { status: 529 }, { status: 500 });
    const run = await engine.startRun({
      tasks: [1, 2].map((n) => ({ id: `t${n}`, title: `part ${n}`, dependencies: n > 1 ? ['t1'] : [] })),
    });
    const summary = await engine.waitForRun(run.id);
    expect(summary.status).toBe('completed');

    const text = await engine.metrics.text();
    expect(value(text, `orc_model_refusals_total{model="${worker}",status="429"}`)).toBe(1);
    expect(value(text, `orc_model_refusals_total{model="${worker}",status="529"}`)).toBe(2);
    expect(value(text, `orc_model_calls_total{role="worker",model="${worker}",outcome="failed"}`)).toBe(4);
    expect(value(text, `orc_model_calls_total{role="worker",model="${worker}",outcome="succeeded"}`)).toBe(2);
    expect(
      value(text, `orc_model_calls_total{role="manager",model="claude-opus-5-5",outcome="succeeded"}`),
    ).toBe(
      3, // two reviews and the final review
    );
    const vitals = await engine.metrics.vitals();
    expect(vitals.refusals).toEqual({ '429': 1, '529': 2 });
    expect(vitals.tokens).toEqual({
      input: summary.usage.inputTokens,
      output: summary.usage.outputTokens,
      cacheRead: summary.usage.cacheReadTokens,
      cacheWrite: summary.usage.cacheWriteTokens,
    });
    expect(vitals.costUsd).toBeGreaterThan(0);
    expect(vitals.costUsd).toBeCloseTo(summary.costUsd, 9);
    expect(vitals.quotaWait.count).toBe(9);
    expect(vitals.runs).toEqual({ completed: 1 });

    // The other engine in this process saw none of it.
    const untouched = await other.metrics.vitals();
    expect(untouched.refusals).toEqual({ '429': 0, '529': 0 });
    expect(untouched.tokens.input).toBe(0);
    expect(untouched.runs).toEqual({});
  });
});
