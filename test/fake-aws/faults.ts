/** AWS error answers the fake can give, by code, with the HTTP status AWS uses for them. */

export class AwsFault extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'AwsFault';
  }
}

export type PresetFault = 'Throttling' | 'RequestLimitExceeded' | 'ServiceUnavailable' | 'InternalFailure' | 'ExpiredToken';

const PRESETS: Record<PresetFault, { status: number; message: string }> = {
  Throttling: { status: 400, message: 'Rate exceeded' },
  RequestLimitExceeded: { status: 503, message: 'Request limit exceeded.' },
  ServiceUnavailable: { status: 503, message: 'Service is unavailable. Please try again later.' },
  InternalFailure: { status: 500, message: 'An internal error has occurred.' },
  ExpiredToken: { status: 403, message: 'The security token included in the request is expired' },
};

export function faultFor(spec: PresetFault | { code: string; status: number; message: string }): AwsFault {
  if (typeof spec === 'string') return new AwsFault(spec, PRESETS[spec].message, PRESETS[spec].status);
  return new AwsFault(spec.code, spec.message, spec.status);
}
