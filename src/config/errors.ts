import type { z } from 'zod';
import { ERROR_CODES, type CodedError } from '../errors/codes.js';

/** A config problem: always names the file and the field path, and is a usage error (exit 2). */
export class ConfigError extends Error implements CodedError {
  /**
   * The file's own code is still running (it never settled): the process must exit once the error
   * is reported instead of waiting for that code, whose timers or sockets could keep it alive.
   */
  readonly unsettled: boolean;

  constructor(
    readonly file: string,
    readonly problems: string[],
    options: { unsettled?: boolean } = {},
  ) {
    super(`${file}: invalid config\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.unsettled = options.unsettled ?? false;
  }

  get shipCode() {
    return ERROR_CODES.configInvalid;
  }
}

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || '(top level)';
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const field = formatPath(issue.path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => `${formatPath([...issue.path, key])}: unknown field`).join('\n  - ');
    case 'invalid_type':
      if (issue.message.includes('received undefined')) return `${field}: required (${issue.expected})`;
      return `${field}: ${issue.message.replace(/^Invalid input: /, '')}`;
    case 'invalid_union': {
      // A discriminated union whose tag is wrong says which tags it knows.
      if ('note' in issue && issue.note === 'No matching discriminator') return `${field}: ${issue.message}`;
      return `${field}: ${issue.message.replace(/^Invalid input/, 'invalid value')}`;
    }
    default:
      return `${field}: ${issue.message}`;
  }
}

export function configErrorFromZod(file: string, error: z.ZodError): ConfigError {
  return new ConfigError(file, error.issues.map(describeIssue));
}
