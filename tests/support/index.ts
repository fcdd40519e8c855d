export * from './fake-anthropic-server.js';
export * from './engine-fixtures.js';
export * from './taskmaster-fixtures.js';
export * from './fake-orchestrator.js';
export * from './png-image.js';
export * from './headless-browser.js';
