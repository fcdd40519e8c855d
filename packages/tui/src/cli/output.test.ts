import { describe, expect, it } from 'vitest';
import type { ProviderName } from '@orc/shared';
import { damageFix, damageText, spendNote } from './output.js';

const journal = {
  file: '/state/runs/r1/events.jsonl',
  reason: 'is damaged from event 40 on: line 40 is not valid JSON and no event after it shows what it held',
  at: '2026-11-30T10:00:00.000Z',
};

describe('damageText', () => {
  it('says a run kept as it is only of a damaged run', () => {
    expect(damageText({ ...journal, file: '/state/runs/r1/state.json', reason: 'is empty' }, 'damaged')).toBe(
      'damaged: /state/runs/r1/state.json is empty; the run is kept as it is and not run',
    );
  });

  it('says a live run whose journal ended early goes on, and a finished one is whole', () => {
    // A trial read "kept as it is and not run" of a run that went on from its saved state.
    expect(damageText(journal, 'executing')).toBe(
      `journal damaged: ${journal.file} ${journal.reason}; the run goes on from its saved state, only the events there cannot be read`,
    );
    expect(damageText(journal, 'completed')).toBe(
      `journal damaged: ${journal.file} ${journal.reason}; the run is whole in its saved state, only the events there cannot be read`,
    );
  });

  it('gives the fix that fits: a damaged run, a journal with a hole, nothing for a rebuilt run', () => {
    expect(damageFix({ id: 'r1', status: 'damaged', damage: journal })).toMatch(
      /^fix: orc rm r1 removes it;/,
    );
    expect(damageFix({ id: 'r1', status: 'executing', damage: { ...journal, readsOnAfter: 41 } })).toBe(
      `orc logs r1 --after 41 reads on past it; fix: put back a good copy of ${journal.file} and restart the daemon (orc daemon stop, then orc daemon start) to read them all`,
    );
    expect(damageFix({ id: 'r1', status: 'executing', damage: journal })).toBe(
      `fix: put back a good copy of ${journal.file} and restart the daemon (orc daemon stop, then orc daemon start) to read the rest`,
    );
    expect(
      damageFix({ id: 'r1', status: 'completed', damage: { ...journal, rebuiltFrom: 'the journal alone' } }),
    ).toBe(undefined);
  });
});

describe('spendNote', () => {
  const models = (manager: ProviderName, worker: ProviderName) => ({
    models: {
      manager: { provider: manager, model: 'claude-opus-5-5' },
      worker: { provider: worker, model: 'claude-sonnet-5-5' },
      simulated: manager === 'simulated' && worker === 'simulated',
    },
  });

  it('says nothing was spent on simulated tokens, in the words of orc report, and nothing for real models', () => {
    expect(spendNote(models('simulated', 'simulated'))).toBe(
      ' (simulated tokens at real prices: nothing was spent)',
    );
    expect(spendNote(models('simulated', 'claude-code'))).toBe(
      " (the manager's part is simulated tokens at real prices: not spent)",
    );
    expect(spendNote(models('anthropic', 'anthropic'))).toBe('');
  });
});
