#!/usr/bin/env node
// The published entry point runs the compiled CLI; `npm run build` (run by `npm ci` via prepare) produces it.
// The SDK's notice that its future releases need Node 22 is for ship's maintainers, not for someone deploying.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
await import('../dist/src/cli/main.js');
