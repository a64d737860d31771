// Package backup holds the self-hosted backup scripts (basebackup.sh,
// restore.sh, archive.conf) and, in its test, the point-in-time restore
// they promise, run against a real PostgreSQL (make test-pitr). See
// README.md in this folder for Neon's point-in-time restore and branching.
package backup
