import { defineProject } from 'vitest/config';
import { sourceResolution } from '../vitest.shared.js';

// The `integration` project: specs in specs/ run against real brokers that src/global-setup.ts
// provides (env URLs, testcontainers, or local processes; see README.md).
const awsEnv: Record<string, string> = {};
// The SQS/SNS emulators accept any credentials; never override real ones.
if (!process.env.AWS_ACCESS_KEY_ID) awsEnv.AWS_ACCESS_KEY_ID = 'carrier-test';
if (!process.env.AWS_SECRET_ACCESS_KEY) awsEnv.AWS_SECRET_ACCESS_KEY = 'carrier-test';
if (!process.env.AWS_REGION) awsEnv.AWS_REGION = 'us-east-1';
// the SDK's notice that its 2027 releases need Node 22 is noise in every test run
awsEnv.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export default defineProject({
  ...sourceResolution,
  test: {
    name: 'integration',
    include: ['specs/**/*.spec.ts'],
    globalSetup: ['./src/global-setup.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 180_000,
    env: awsEnv,
  },
});
