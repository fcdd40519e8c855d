export * from './fake-anthropic-server.js';
export * from './engine-fixtures.js';
export * from './taskmaster-fixtures.js';
export * from './fake-orchestrator.js';
export * from './freezable-store.js';
export * from './journal-view.js';
