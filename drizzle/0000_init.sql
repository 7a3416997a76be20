CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`name` text NOT NULL,
	`hash` text NOT NULL,
	`identifier` text NOT NULL,
	`last4` text NOT NULL,
	`scopes` text NOT NULL,
	`rate_limit` text,
	`meta` text,
	`rotated_from` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`expires_at` integer,
	`revoked_at` integer,
	`last_used_at` integer,
	FOREIGN KEY (`org_id`) REFERENCES `orgs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_hash_unique` ON `api_keys` (`hash`);--> statement-breakpoint
CREATE INDEX `api_keys_org_created_idx` ON `api_keys` (`org_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `api_keys_org_last_used_idx` ON `api_keys` (`org_id`,`last_used_at`);--> statement-breakpoint
CREATE TABLE `audit_events` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`action` text NOT NULL,
	`key_id` text,
	`actor` text NOT NULL,
	`source` text,
	`reason` text,
	`count` integer DEFAULT 1 NOT NULL,
	`details` text,
	`created_at` integer NOT NULL,
	`last_seen_at` integer NOT NULL,
	`aggregate_key` text
);
--> statement-breakpoint
CREATE INDEX `audit_org_created_idx` ON `audit_events` (`org_id`,`created_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `audit_aggregate_key_unique` ON `audit_events` (`aggregate_key`);--> statement-breakpoint
CREATE TABLE `auth_failures` (
	`bucket` text PRIMARY KEY NOT NULL,
	`source` text NOT NULL,
	`reason` text NOT NULL,
	`count` integer DEFAULT 1 NOT NULL,
	`first_seen_at` integer NOT NULL,
	`last_seen_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `auth_failures_last_seen_idx` ON `auth_failures` (`last_seen_at`);--> statement-breakpoint
CREATE TABLE `orgs` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`tier` text NOT NULL,
	`max_active_keys` integer DEFAULT 25 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `usage_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`key_id` text NOT NULL,
	`org_id` text NOT NULL,
	`method` text NOT NULL,
	`path` text NOT NULL,
	`status` integer NOT NULL,
	`latency_ms` integer NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `usage_key_at_idx` ON `usage_events` (`key_id`,`at`);