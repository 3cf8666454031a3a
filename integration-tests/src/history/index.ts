// The history checker: record (history.ts), analyse (check.ts), report (report.ts).
export * from './check.js';
export * from './history.js';
export * from './report.js';
