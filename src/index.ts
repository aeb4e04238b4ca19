// The public surface a config file or a playbook imports.
export { defineConfig } from './config/define.js';
export { env } from './config/env.js';
export type { ShipConfigInput, ShipConfig } from './config/schema.js';
export { sh, unsafeRaw, quote } from './shell/sh.js';
export type { ShellCommand } from './shell/sh.js';
export { definePlaybook, run, upload, reboot, requireVar } from './playbook/define.js';
export type { Playbook, RunOnceInput, StepContext, Step, VarCheck } from './playbook/define.js';
