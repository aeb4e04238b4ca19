// The public surface a config file or a playbook imports.
export { defineConfig } from './config/define.js';
export { env } from './config/env.js';
export { ERROR_CODES } from './errors/codes.js';
export { command, file } from './config/secret-ref.js';
export type { ShipConfigInput, ShipConfig } from './config/schema.js';
export { sh, unsafeRaw, quote } from './shell/sh.js';
export type { ShellCommand } from './shell/sh.js';
export { definePlaybook, run, upload, reboot, requireVar } from './playbook/define.js';
export type { ContainerSpec, Playbook, RunOnceInput, StepContext, Step, VarCheck } from './playbook/define.js';
export { containerDir, containerOf, engine, imageRef, inspectContainer, releaseFormat, replaceContainer } from './playbook/container.js';
export { renderEnvFile, writeSecretsFile } from './playbook/secrets-file.js';
