import { afterEach, describe, expect, it } from 'vitest';
import { Sandbox } from '../daemon/harness.js';

let box: Sandbox;
afterEach(async () => {
  await box.cleanup();
});

const KEY = 'sk-ant-api03-test-key-not-real-0123456789';

describe('orc doctor', () => {
  it('checks what the running daemon will do, not what this shell has', async () => {
    box = await Sandbox.create();
    const started = await box.orc(['daemon', 'start', '--json']);
    expect(started.code, started.stderr).toBe(0);
    box.env['ANTHROPIC_API_KEY'] = KEY;

    const simulated = await box.orc(['doctor']);
    expect(simulated.code, simulated.stderr).toBe(0);
    expect(simulated.stdout).toMatch(/^ok {4}api key {4}set in this shell; the running daemon has none$/m);
    expect(simulated.stdout).toMatch(
      /^warn {2}models {5}runs will be SIMULATED: this shell has ANTHROPIC_API_KEY but the running daemon was started without it/m,
    );

    await box.writeConfig({ models: { provider: 'anthropic' } });
    const failing = await box.orc(['doctor', '--json']);
    expect(failing.code).toBe(1);
    const report = JSON.parse(failing.stdout) as { ok: boolean; checks: { name: string; status: string }[] };
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.name === 'models')).toMatchObject({ status: 'fail' });
    expect(failing.stdout).not.toContain(KEY);
    expect(failing.stderr).toBe('orc: 1 check(s) failed\n');

    // Restarted from this shell, the daemon has the key: nothing left to fix.
    expect((await box.orc(['daemon', 'stop'])).code).toBe(0);
    expect((await box.orc(['daemon', 'start'])).code).toBe(0);
    const fixed = await box.orc(['doctor']);
    expect(fixed.stdout).toMatch(/^ok {4}models {5}anthropic$/m);
    expect(fixed.stdout).toMatch(/the running daemon has one$/m);
    await box.daemonPid();
  });
});
