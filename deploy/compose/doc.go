// Package compose holds what docker-compose.yml mounts (PgBouncer's and
// Prometheus' configuration, the migrate script) and, in its test, the
// static checks of docker-compose.yml and the Dockerfile against the code:
// there is no Docker where the tests run.
package compose
