/**
 * The layouts discovery detects and the replica gate reads, by id: one line per tool. Detection
 * takes the first layout that claims a directory, so the ones with a marker of their own (a
 * journal, a folder per migration, an annotation) come before sqlx, which is told apart only by
 * the crate around it; a directory none claims is read by file name (discovery.ts: Flyway,
 * golang-migrate, dbmate, numbered).
 */
import type { LayoutId } from '../migration-file.js';
import { diesel } from './diesel.js';
import { drizzle } from './drizzle.js';
import { goose } from './goose.js';
import type { Layout } from './layout.js';
import { prisma } from './prisma.js';
import { sqlx } from './sqlx.js';

export const LAYOUTS: Readonly<Record<LayoutId, Layout>> = {
  drizzle,
  prisma,
  diesel,
  goose,
  sqlx,
};
