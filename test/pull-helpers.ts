import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import type pg from "pg";
import { freshDatabase, type TestDatabase } from "./support/database.ts";

/**
 * A database with hubsync installed. Uses CTRL's `hubsync install` once it exists; until then the
 * control tables of CONTRACTS.md plus the PULL migration section and SQL files are applied directly.
 */
export async function installedDatabase(label: string): Promise<TestDatabase> {
  const db = await freshDatabase(label);
  const installModule = new URL("../src/db/install.ts", import.meta.url);
  if (existsSync(installModule)) {
    const mod = (await import(installModule.href)) as { install?: (url: string, opts?: unknown) => Promise<unknown> };
    if (typeof mod.install === "function") {
      await mod.install(db.url, { quiet: true });
      return db;
    }
  }
  await applyFallbackSchema(db.pool);
  return db;
}

async function applyFallbackSchema(pool: pg.Pool): Promise<void> {
  await pool.query(`
    create schema if not exists hubsync; create schema if not exists hubspot;
    create table if not exists hubsync.objects (
      object_type text primary key, object_type_id text,
      kind text not null default 'crm' check (kind in ('crm','owners','pipelines')),
      enabled boolean not null default true, properties text[], write_back boolean not null default false,
      phase text not null default 'discovering' check (phase in ('discovering','backfilling','live','error','disabled')),
      table_name text, singular_name text, last_modified_property text,
      on_archive text not null default 'delete' check (on_archive in ('delete','mark')),
      conflict_policy text not null default 'hubspot_wins', on_reject text not null default 'keep_local',
      last_error text, last_error_at timestamptz, last_pull_at timestamptz,
      enabled_at timestamptz not null default now(), updated_at timestamptz not null default now());
    create table if not exists hubsync.columns (
      object_type text not null references hubsync.objects on delete cascade,
      property_name text not null, column_name text not null, hubspot_type text not null, field_type text, pg_type text not null,
      read_only boolean not null default false, unique_value boolean not null default false, archived_at timestamptz,
      added_at timestamptz not null default now(), primary key (object_type, property_name), unique (object_type, column_name));
    create table if not exists hubsync.cursors (object_type text not null, stream text not null, state jsonb not null default '{}',
      updated_at timestamptz not null default now(), primary key (object_type, stream));
    create table if not exists hubsync.runs (id bigint generated always as identity primary key, object_type text, kind text not null,
      status text not null default 'running' check (status in ('running','ok','error')),
      started_at timestamptz not null default now(), finished_at timestamptz,
      records integer not null default 0, requests integer not null default 0, rate_limited integer not null default 0,
      error text, details jsonb not null default '{}');
    create table if not exists hubsync.merges (object_type text not null, merged_id text not null, winner_id text not null,
      merged_at timestamptz not null default now(), primary key (object_type, merged_id));
  `);
  const current = await readFile(new URL("../migrations/current.sql", import.meta.url), "utf8");
  const section = current.slice(current.indexOf("-- == PULL =="));
  const end = section.indexOf("\n-- == ", 5);
  await pool.query(end > 0 ? section.slice(0, end) : section);
  for (const file of ["30_pull_rate_budget.sql"]) {
    await pool.query(await readFile(new URL(`../sql/${file}`, import.meta.url), "utf8"));
  }
}
