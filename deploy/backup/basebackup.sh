#!/usr/bin/env bash
# Takes a full base backup of a self-hosted PostgreSQL and applies the
# retention: the daily job of deploy/backup/README.md.
#
#   BACKUP_DSN='host=db user=replicator' BACKUP_DIR=/backups WAL_ARCHIVE_DIR=/wal \
#     deploy/backup/basebackup.sh
#
# BACKUP_DSN      libpq connection string of a role with REPLICATION (direct,
#                 never through a pooler)
# BACKUP_DIR      where backups go, one folder each, named by the UTC time
#                 it started (20261202T030000Z): base.tar.gz, pg_wal.tar.gz
#                 (the WAL the backup needs, streamed alongside) and
#                 backup_manifest (checked with pg_verifybackup)
# WAL_ARCHIVE_DIR the server's archive_command target (see archive.conf);
#                 WAL older than the oldest kept backup is removed from it
# RETENTION_DAYS  how long a backup is kept (7); the newest is always kept
# PG_BINDIR       folder of pg_basebackup and pg_archivecleanup (default:
#                 pg_config --bindir, else the newest /usr/lib/postgresql/*/bin)
set -euo pipefail

: "${BACKUP_DSN:?BACKUP_DSN is not set}"
: "${BACKUP_DIR:?BACKUP_DIR is not set}"
: "${WAL_ARCHIVE_DIR:?WAL_ARCHIVE_DIR is not set}"
RETENTION_DAYS=${RETENTION_DAYS:-7}

bindir=${PG_BINDIR:-}
if [ -z "$bindir" ]; then
	bindir=$(pg_config --bindir 2>/dev/null || true)
	if [ ! -x "$bindir/pg_basebackup" ]; then
		bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
	fi
fi

name=$(date -u +%Y%m%dT%H%M%SZ)
dest="$BACKUP_DIR/$name"
mkdir -p "$BACKUP_DIR"
# A backup is complete only once its folder has its final name.
"$bindir/pg_basebackup" --dbname="$BACKUP_DSN" --pgdata="$dest.partial" \
	--format=tar --gzip --wal-method=stream --checkpoint=fast \
	--label="todo $name" --no-password
mv "$dest.partial" "$dest"
echo "base backup $dest"

# Retention: drop complete backups older than RETENTION_DAYS, never the
# newest one.
cutoff=$(date -u -d "-$RETENTION_DAYS days" +%Y%m%dT%H%M%SZ)
mapfile -t backups < <(find "$BACKUP_DIR" -mindepth 1 -maxdepth 1 -type d -name '[0-9]*T[0-9]*Z' -printf '%f\n' | sort)
for b in "${backups[@]}"; do
	if [[ "$b" < "$cutoff" && "$b" != "$name" ]]; then
		rm -rf "${BACKUP_DIR:?}/$b"
		echo "removed backup $b (older than $RETENTION_DAYS days)"
	fi
done

# WAL from before the oldest kept backup can restore nothing any more.
oldest=$(find "$BACKUP_DIR" -mindepth 1 -maxdepth 1 -type d -name '[0-9]*T[0-9]*Z' -printf '%f\n' | sort | head -n1)
first_wal=$(tar -xzOf "$BACKUP_DIR/$oldest/base.tar.gz" backup_label | sed -n 's/^START WAL LOCATION: .* (file \([0-9A-F]*\))$/\1/p')
if [ -n "$first_wal" ]; then
	"$bindir/pg_archivecleanup" "$WAL_ARCHIVE_DIR" "$first_wal"
	echo "WAL archive kept from $first_wal (backup $oldest)"
fi
