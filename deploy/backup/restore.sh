#!/usr/bin/env bash
# Restores a base backup of basebackup.sh into a new data directory and
# sets it up to replay the archived WAL up to a point in time:
#
#   WAL_ARCHIVE_DIR=/wal deploy/backup/restore.sh /backups/20261202T030000Z \
#     /var/lib/postgresql/restored '2026-12-02 14:05:00+00'
#
# Pick the newest backup that started before the target time. Without a
# target time, recovery replays all archived WAL. Then start PostgreSQL on
# the directory (as the postgres user): it replays the WAL, stops at the
# last transaction committed at or before the target, and is promoted to a
# new timeline, writable, with nothing written after the target. The old
# cluster is not touched.
set -euo pipefail

backup=${1:?usage: restore.sh BACKUP_FOLDER NEW_DATA_DIR [TARGET_TIME]}
data=${2:?usage: restore.sh BACKUP_FOLDER NEW_DATA_DIR [TARGET_TIME]}
target=${3:-}
: "${WAL_ARCHIVE_DIR:?WAL_ARCHIVE_DIR is not set}"

if [ -e "$data" ] && [ -n "$(ls -A "$data")" ]; then
	echo "restore.sh: $data is not empty; restore into a new directory" >&2
	exit 1
fi
mkdir -p -m 0700 "$data"
tar -xzf "$backup/base.tar.gz" -C "$data"
mkdir -p -m 0700 "$data/pg_wal"
tar -xzf "$backup/pg_wal.tar.gz" -C "$data/pg_wal"

{
	echo "# Added by deploy/backup/restore.sh from $backup"
	echo "restore_command = 'cp \"$WAL_ARCHIVE_DIR/%f\" \"%p\"'"
	if [ -n "$target" ]; then
		echo "recovery_target_time = '$target'"
		echo "recovery_target_inclusive = on"
	fi
	echo "recovery_target_action = 'promote'"
} >> "$data/postgresql.auto.conf"
touch "$data/recovery.signal"
echo "restored $backup into $data${target:+, recovering to $target}; start PostgreSQL on it"
