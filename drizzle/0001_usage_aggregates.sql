CREATE TABLE `usage_applied` (
	`id` text PRIMARY KEY NOT NULL,
	`applied_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `usage_applied_at_idx` ON `usage_applied` (`applied_at`);--> statement-breakpoint
CREATE TABLE `usage_hours` (
	`key_id` text NOT NULL,
	`org_id` text NOT NULL,
	`hour` integer NOT NULL,
	`status_class` integer NOT NULL,
	`count` integer NOT NULL,
	`max_ms` integer NOT NULL,
	`h0` integer DEFAULT 0 NOT NULL,
	`h1` integer DEFAULT 0 NOT NULL,
	`h2` integer DEFAULT 0 NOT NULL,
	`h3` integer DEFAULT 0 NOT NULL,
	`h4` integer DEFAULT 0 NOT NULL,
	`h5` integer DEFAULT 0 NOT NULL,
	`h6` integer DEFAULT 0 NOT NULL,
	`h7` integer DEFAULT 0 NOT NULL,
	`h8` integer DEFAULT 0 NOT NULL,
	`h9` integer DEFAULT 0 NOT NULL,
	`h10` integer DEFAULT 0 NOT NULL,
	`h11` integer DEFAULT 0 NOT NULL,
	`h12` integer DEFAULT 0 NOT NULL,
	`h13` integer DEFAULT 0 NOT NULL,
	`h14` integer DEFAULT 0 NOT NULL,
	`h15` integer DEFAULT 0 NOT NULL,
	`h16` integer DEFAULT 0 NOT NULL,
	`h17` integer DEFAULT 0 NOT NULL,
	`h18` integer DEFAULT 0 NOT NULL,
	`h19` integer DEFAULT 0 NOT NULL,
	`h20` integer DEFAULT 0 NOT NULL,
	`h21` integer DEFAULT 0 NOT NULL,
	`h22` integer DEFAULT 0 NOT NULL,
	`h23` integer DEFAULT 0 NOT NULL,
	`h24` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`key_id`, `hour`, `status_class`)
);
--> statement-breakpoint
CREATE INDEX `usage_hours_org_idx` ON `usage_hours` (`org_id`,`hour`);--> statement-breakpoint
CREATE TABLE `usage_minutes` (
	`key_id` text NOT NULL,
	`org_id` text NOT NULL,
	`minute` integer NOT NULL,
	`status_class` integer NOT NULL,
	`count` integer NOT NULL,
	`max_ms` integer NOT NULL,
	`h0` integer DEFAULT 0 NOT NULL,
	`h1` integer DEFAULT 0 NOT NULL,
	`h2` integer DEFAULT 0 NOT NULL,
	`h3` integer DEFAULT 0 NOT NULL,
	`h4` integer DEFAULT 0 NOT NULL,
	`h5` integer DEFAULT 0 NOT NULL,
	`h6` integer DEFAULT 0 NOT NULL,
	`h7` integer DEFAULT 0 NOT NULL,
	`h8` integer DEFAULT 0 NOT NULL,
	`h9` integer DEFAULT 0 NOT NULL,
	`h10` integer DEFAULT 0 NOT NULL,
	`h11` integer DEFAULT 0 NOT NULL,
	`h12` integer DEFAULT 0 NOT NULL,
	`h13` integer DEFAULT 0 NOT NULL,
	`h14` integer DEFAULT 0 NOT NULL,
	`h15` integer DEFAULT 0 NOT NULL,
	`h16` integer DEFAULT 0 NOT NULL,
	`h17` integer DEFAULT 0 NOT NULL,
	`h18` integer DEFAULT 0 NOT NULL,
	`h19` integer DEFAULT 0 NOT NULL,
	`h20` integer DEFAULT 0 NOT NULL,
	`h21` integer DEFAULT 0 NOT NULL,
	`h22` integer DEFAULT 0 NOT NULL,
	`h23` integer DEFAULT 0 NOT NULL,
	`h24` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`key_id`, `minute`, `status_class`)
);
--> statement-breakpoint
CREATE INDEX `usage_minutes_org_idx` ON `usage_minutes` (`org_id`,`minute`);--> statement-breakpoint
CREATE TABLE `usage_recent` (
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
CREATE INDEX `usage_recent_key_at_idx` ON `usage_recent` (`key_id`,`at`);--> statement-breakpoint
CREATE INDEX `audit_action_last_seen_idx` ON `audit_events` (`action`,`last_seen_at`);