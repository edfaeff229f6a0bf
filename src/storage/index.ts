/** The storage layer's public surface (see docs/storage.md). */
export * from './types.js';
export { SegmentedLogStore, type SegmentedLogStoreOptions } from './segmented-log-store.js';
export { MemoryLogStore, type MemoryLogStoreOptions } from './memory-log-store.js';
export { LevelStateMachineStore } from './level-state-machine-store.js';
export { MemoryStateMachineStore } from './memory-state-machine-store.js';
