/**
 * jiti's createJiti, loaded on first use through require(). jiti's ES module entry imports its
 * 190 KB CommonJS bundle, which Node first scans for export names (~30 ms of every run that reads
 * a config); require() runs the same bundle without the scan. Its CommonJS entry is the same
 * createJiti with the same defaults.
 */
import { createRequire } from 'node:module';
import type { createJiti as CreateJiti } from 'jiti';

let createJiti: typeof CreateJiti | undefined;

export function jiti(): typeof CreateJiti {
  createJiti ??= (createRequire(import.meta.url)('jiti') as { createJiti: typeof CreateJiti }).createJiti;
  return createJiti;
}
