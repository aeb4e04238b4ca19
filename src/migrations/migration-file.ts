/**
 * What migration discovery produces, below both discovery and the layouts in layouts/: discovery
 * asks the layouts, and each layout's version table writes rows for these files.
 */
import type { MigrationPhase, MigrationSource } from '../lint/types.js';
import { ERROR_CODES, type CodedError } from '../errors/codes.js';
import type { MigrationLayout } from './file-name.js';

/** The tools with a layout file of their own in layouts/, each registered in layouts/registry.ts. */
export type LayoutId = 'prisma' | 'drizzle' | 'diesel' | 'sqlx' | 'goose';

export interface MigrationFile extends MigrationSource {
  readonly version: string;
  readonly name: string;
  readonly layout: MigrationLayout | LayoutId;
  /** The checksum the tool records for the file (hex), for the tools that record one (Prisma, Drizzle, sqlx). */
  readonly checksum?: string;
  /** Expand (before the rollout) unless the file declares `-- ship:phase contract` (phase.ts). */
  readonly phase: MigrationPhase;
}

export class MigrationDiscoveryError extends Error implements CodedError {
  override readonly name = 'MigrationDiscoveryError';

  get shipCode() {
    return ERROR_CODES.migrationInputUnreadable;
  }
}
