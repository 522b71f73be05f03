#!/bin/sh
# Temporal's databases on PostgreSQL, created and migrated with the admin-tools image's own tool.
set -eu
for db in temporal temporal_visibility; do
  case $db in
    temporal) schema=/etc/temporal/schema/postgresql/v12/temporal/versioned ;;
    *) schema=/etc/temporal/schema/postgresql/v12/visibility/versioned ;;
  esac
  tool="temporal-sql-tool --plugin postgres12 --ep $POSTGRES_SEEDS -u $POSTGRES_USER -p $DB_PORT --db $db"
  $tool create || true          # already there on a restart
  $tool setup-schema -v 0.0 || true
  $tool update-schema -d "$schema"
done
