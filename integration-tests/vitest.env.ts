// Environment of the test workers of the `integration` project and of `npm run soak`.
export const awsEnv: Record<string, string> = {};
// The SQS/SNS emulators accept any credentials; never override real ones.
if (!process.env.AWS_ACCESS_KEY_ID) awsEnv.AWS_ACCESS_KEY_ID = 'carrier-test';
if (!process.env.AWS_SECRET_ACCESS_KEY) awsEnv.AWS_SECRET_ACCESS_KEY = 'carrier-test';
if (!process.env.AWS_REGION) awsEnv.AWS_REGION = 'us-east-1';
// the SDK's notice that its 2027 releases need Node 22 is noise in every test run
awsEnv.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
