/** The config file a command reads when `--config` is not given (its own module: `ship --help` shows it without loading the config machinery). */
export const DEFAULT_CONFIG_FILE = 'orchestrator.config.ts';
