/**
 * `env('DATABASE_URL')` in a config file: the value is read when the config is validated, so a
 * missing variable is reported with the config field that needed it, and the value is
 * registered as a secret that never reaches logs or events.
 */
const ENV_REF = Symbol.for('ship.EnvRef');

export interface EnvRef {
  readonly [ENV_REF]: true;
  readonly name: string;
  readonly optional: boolean;
}

export function env(name: string, options: { optional?: boolean } = {}): EnvRef & string {
  // Typed as string too so it can stand wherever the config takes a string.
  return { [ENV_REF]: true, name, optional: options.optional ?? false } as unknown as EnvRef & string;
}

export function isEnvRef(value: unknown): value is EnvRef {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[ENV_REF] === true;
}
