import { ERROR_CODES, type CodedError } from '../errors/codes.js';

/** Bad flags or arguments: the message says which and what is accepted (exit code 2). */
export class UsageError extends Error implements CodedError {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }

  get shipCode() {
    return ERROR_CODES.usage;
  }
}
