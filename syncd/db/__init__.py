"""The mirror database: table definitions, engine set-up, migrations and bulk writes."""
