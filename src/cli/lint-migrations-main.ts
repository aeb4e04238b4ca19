#!/usr/bin/env node
// Standalone entry for `ship lint-migrations`: CI jobs and the benchmark run it without loading the deploy machinery.
import { runLintCli } from './lint-migrations.js';

process.exitCode = await runLintCli(process.argv.slice(2));
