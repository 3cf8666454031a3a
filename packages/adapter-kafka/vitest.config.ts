import { defineProject } from 'vitest/config';

export default defineProject({ test: { name: 'adapter-kafka', include: ['src/**/*.test.ts'] } });
