import { classifyError, runbookLink, type ErrorCodeInfo } from './codes.js';

/** The stable code and runbook link that go with an error into events, summaries and notifications. */
export interface Coded {
  code?: string;
  runbook?: string;
}

export function codeOf(error: unknown): Required<Coded> {
  const info = classifyError(error);
  return { code: info.code, runbook: runbookLink(info) };
}

export function codeFor(info: ErrorCodeInfo): Required<Coded> {
  return { code: info.code, runbook: runbookLink(info) };
}
