import { describe, expect, it } from 'vitest';
import { simulatedLabel, simulatedRoles, type RunModels } from './run.js';

const models = (manager: string, worker: string): RunModels =>
  ({
    manager: { provider: manager, model: 'm' },
    worker: { provider: worker, model: 'w' },
    simulated: manager === 'simulated' || worker === 'simulated',
  }) as RunModels;

describe('the SIMULATED label', () => {
  it('says which role is simulated, so real agents under a simulated manager are not called simulated work', () => {
    expect(simulatedRoles(models('simulated', 'simulated'))).toBe('SIMULATED');
    expect(simulatedRoles(models('simulated', 'claude-code'))).toBe('SIMULATED manager');
    expect(simulatedRoles(models('anthropic', 'simulated'))).toBe('SIMULATED workers');
    expect(simulatedRoles(models('anthropic', 'claude-code'))).toBeUndefined();
    expect(simulatedLabel({ models: models('simulated', 'claude-code') })).toBe(' [SIMULATED manager]');
    expect(simulatedLabel({ models: models('anthropic', 'anthropic') })).toBe('');
  });
});
