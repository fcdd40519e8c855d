import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isOrcError, type ResolvedConfig } from '@orc/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { createScriptedProvider, readJournal, tempHome, testConfig } from '@orc/test-support';
import { createOrchestrator } from './create-orchestrator.js';
import type { Orchestrator } from './orchestrator.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

/** An engine whose daemon config is `daemon`; `seen` gets each config a provider is made with. */
async function open(home: string, daemon: Parameters<typeof testConfig>[1], seen: ResolvedConfig[] = []) {
  const provider = createScriptedProvider();
  const orchestrator: Orchestrator = await createOrchestrator({
    home,
    loaded: testConfig(home, { models: { provider: 'simulated' }, ...daemon }),
    retryBaseMs: 1,
    providers: (_name, config) => (seen.push(config), provider),
  });
  let closed = false;
  const close = async () => {
    if (!closed) await orchestrator.close(0);
    closed = true;
  };
  cleanup.push(close);
  return { orchestrator, close };
}

const tasks = [{ id: 'a', title: 'Task a', dependencies: [] }];

/** The config as the run keeps it: in its document, and in `run.created` (which clients get). */
async function storedConfigOf(home: string, runId: string): Promise<ResolvedConfig> {
  const doc = JSON.parse(await readFile(join(home, 'runs', runId, 'state.json'), 'utf8')) as {
    config: ResolvedConfig;
  };
  const created = (await readJournal(home, runId)).find((event) => event.type === 'run.created');
  expect(created?.type === 'run.created' && created.setup?.config).toEqual(doc.config);
  return doc.config;
}

describe("a run's configuration", () => {
  it("is what the user set over the daemon's own, and says so", async () => {
    const { home, remove } = await tempHome();
    cleanup.push(remove);
    const { orchestrator } = await open(home, { execution: { max_reworks: 5 } });
    const run = await orchestrator.startRun({ tasks, config: { execution: { max_workers: 2 } } });
    await orchestrator.waitForRun(run.id);
    const config = await storedConfigOf(home, run.id);
    expect(config.execution).toMatchObject({ max_reworks: 5, max_workers: 2, backend: 'local' });
  });

  it('refuses a backend other than the daemon’s, naming the key and the fix, and starts nothing', async () => {
    const { home, remove } = await tempHome();
    cleanup.push(remove);
    const { orchestrator } = await open(home, {});
    const refused = await orchestrator
      .startRun({ tasks, config: { execution: { backend: 'redis' } } })
      .catch((error: unknown) => error);
    expect(isOrcError(refused) && refused.code).toBe('CONFIG_INVALID');
    expect((refused as Error).message).toBe(
      `config key execution.backend is "redis" in your configuration, but the daemon's is "local" ` +
        `(the default): where attempts run is the daemon's choice; drop the key, or set it in ` +
        `${home}/orc.config.json and restart the daemon (orc daemon stop)`,
    );
    const other = await orchestrator
      .startRun({ tasks, config: { redis: { url: 'redis://elsewhere:6379' } } })
      .catch((error: unknown) => (error as Error).message);
    expect(other).toMatch(/^config key redis\.url is "redis:\/\/elsewhere:6379" in your configuration/);
    expect(orchestrator.listRuns()).toEqual([]);
    // The rest of the daemon's own keys: a run's value would be quietly ignored, so it is refused too.
    const refusal = (config: Parameters<Orchestrator['startRun']>[0]['config']) =>
      orchestrator
        .startRun({ tasks, ...(config && { config }) })
        .catch((error: unknown) => (error as Error).message);
    expect(await refusal({ execution: { machine_max_in_flight: 2 } })).toMatch(
      /^config key execution\.machine_max_in_flight is 2 in your configuration, but the daemon's is 16 .*: it caps the model calls of every run of the daemon; drop the key/,
    );
    expect(await refusal({ notifications: { on: ['permission'] } })).toMatch(
      /^config key notifications\.on is \["permission"\] .*: the daemon sends the notifications of all its runs;/,
    );
    expect(await refusal({ monitoring: { metrics_port: 9100 } })).toMatch(
      /^config key monitoring\.metrics_port is 9100 in your configuration, but the daemon's is unset/,
    );
    // Several at once are named at once, to be fixed at once.
    expect(
      await refusal({ execution: { machine_max_in_flight: 2 }, monitoring: { metrics_port: 9100 } }),
    ).toBe(
      `config keys only the daemon decides differ from its own: ` +
        `execution.machine_max_in_flight (2 in your configuration, the daemon's 16 from the default: it caps ` +
        `the model calls of every run of the daemon); monitoring.metrics_port (9100 in your configuration, the ` +
        `daemon's unset from the default: the daemon serves one metrics endpoint ` +
        `for all its runs); drop them, or set them in ${home}/orc.config.json and restart the daemon (orc daemon stop)`,
    );
    // A client says where each key was set, and the refusal names it.
    const named = await orchestrator
      .startRun({
        tasks,
        config: { execution: { backend: 'redis', machine_max_in_flight: 2 } },
        configFrom: {
          'execution.backend': '/work/orc.config.json',
          'execution.machine_max_in_flight': 'environment',
        },
      })
      .catch((error: unknown) => (error as Error).message);
    expect(named).toContain('execution.backend ("redis" in /work/orc.config.json, ');
    expect(named).toContain('execution.machine_max_in_flight (2 in environment, ');
    expect(orchestrator.listRuns()).toEqual([]);
    // What is the run's own goes through, the bell (the terminal's) among them.
    await orchestrator.startRun({
      tasks,
      config: { notifications: { bell: false }, execution: { max_workers: 1 } },
    });
    // The same backend, said again, is no conflict.
    await orchestrator.startRun({ tasks, config: { execution: { backend: 'local' } } });
  });

  it('keeps claude_cli.environment values and the webhook out of the document, the journal and clients, and gives them back on restore', async () => {
    const { home, remove } = await tempHome();
    cleanup.push(remove);
    const secret = 'ghp_secretvalue0123456789';
    const hook = 'https://hooks.example.invalid/T000/B000/secrettoken';
    const first = await open(home, { notifications: { webhook: hook } });
    const run = await first.orchestrator.startRun({
      tasks,
      config: { claude_cli: { environment: { GH_TOKEN: secret, PLAIN: 'x' } } },
    });
    await first.orchestrator.waitForRun(run.id);
    const shown = await storedConfigOf(home, run.id);
    expect(shown.claude_cli.environment).toEqual({ GH_TOKEN: '(withheld)', PLAIN: '(withheld)' });
    expect(shown.notifications).not.toHaveProperty('webhook');
    await first.close();

    const dir = join(home, 'runs', run.id);
    for (const file of await readdir(dir, { recursive: true })) {
      if (file === 'environment.json' || !file.includes('.')) continue;
      const text = await readFile(join(dir, file), 'utf8');
      expect(text, file).not.toContain(secret);
      expect(text, file).not.toContain(hook);
    }

    const seen: ResolvedConfig[] = [];
    const second = await open(home, {}, seen);
    // A finished run is restored when a call needs it: its providers get the variables again.
    await second.orchestrator.getRun(run.id);
    expect(seen.map((config) => config.claude_cli.environment)).toContainEqual({
      GH_TOKEN: secret,
      PLAIN: 'x',
    });
  });
});
