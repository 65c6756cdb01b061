export * from './creation.js';
export * from './elementwise.js';
export * from './group_rational.js';
export * from './layout.js';
export * from './matmul.js';
export * from './nn.js';
export * from './reduce.js';
export * from './optimizer_step.js';
