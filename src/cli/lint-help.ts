/**
 * Whether `ship lint-migrations <argv>` asks only for its help. Nothing is linted then, so the
 * parser's WebAssembly is not compiled: node would wait for that compile before it exits.
 */
export function asksForHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}
