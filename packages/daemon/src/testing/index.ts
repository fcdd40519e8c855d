export * from './fake-anthropic-server.js';
