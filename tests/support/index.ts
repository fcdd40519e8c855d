export * from './fake-anthropic-server.js';
export * from './engine-fixtures.js';
export * from './taskmaster-fixtures.js';
export * from './freezable-store.js';
export * from './journal-view.js';
export * from './counting-orchestrator.js';
export * from './flooding-provider.js';
