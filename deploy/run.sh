#!/usr/bin/env bash
# Runs the whole platform on this machine: `make run` calls it after building
# bin/. Ctrl-C (or SIGTERM) stops everything it started.
#
# Without DATABASE_URL it keeps a PostgreSQL cluster of its own under
# .local/pg (created on first use, reused afterwards), applies the
# migrations as the cluster's superuser, creates one login role per service
# (todo_user_login, a member of todo_user_svc; todo_task_login, a member of
# todo_task_svc) that each service connects as, and a local admin.
# With DATABASE_URL (e.g. Neon, the database owner's DSN) it uses that
# database instead, migrating through MIGRATE_DATABASE_URL (the owner's
# direct DSN) when set, else through DATABASE_URL; the services then connect
# through USER_DATABASE_URL and TASK_DATABASE_URL (required), each a login
# role of that service's group made as the README's Neon section says.
#
# Knobs (environment):
#   HTTP_ADDR       REST gateway address      (default 127.0.0.1:8080)
#   USER_GRPC_ADDR  user service address      (default 127.0.0.1:50051)
#   TASK_GRPC_ADDR  task service address      (default 127.0.0.1:50052)
#   GATEWAY_ADMIN_ADDR / USER_ADMIN_ADDR / TASK_ADMIN_ADDR
#                   admin ports: /metrics, /healthz, /readyz, pprof
#                   (default 127.0.0.1:9090 / :9091 / :9092)
#   PGPORT_LOCAL    local PostgreSQL port     (default 5433)
#   RUN_LOGS        "tail" (default) prints the services' logs here too;
#                   "off" keeps them only in .local/logs
#   RUN_TLS         "1": every hop on TLS with a local CA and certificates
#                   made in .local/tls (HTTPS to the gateway; mutual TLS
#                   gateway → services and task → user). The admin ports
#                   stay plain HTTP on loopback.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
LOCAL="$ROOT/.local"
LOGS="$LOCAL/logs"
KEY="$LOCAL/keys/token.pem"
DATA_KEYRING="$LOCAL/keys/data-keyring.json"
BIN="$ROOT/bin"

HTTP_ADDR="${HTTP_ADDR:-127.0.0.1:8080}"
USER_GRPC_ADDR="${USER_GRPC_ADDR:-127.0.0.1:50051}"
TASK_GRPC_ADDR="${TASK_GRPC_ADDR:-127.0.0.1:50052}"
GATEWAY_ADMIN_ADDR="${GATEWAY_ADMIN_ADDR:-127.0.0.1:9090}"
USER_ADMIN_ADDR="${USER_ADMIN_ADDR:-127.0.0.1:9091}"
TASK_ADMIN_ADDR="${TASK_ADMIN_ADDR:-127.0.0.1:9092}"
PGPORT_LOCAL="${PGPORT_LOCAL:-5433}"
RUN_LOGS="${RUN_LOGS:-tail}"
RUN_TLS="${RUN_TLS:-}"

if [ -t 2 ]; then BLUE=$'\033[1;34m' RED=$'\033[1;31m' GREEN=$'\033[1;32m' OFF=$'\033[0m'; else BLUE="" RED="" GREEN="" OFF=""; fi
say() { printf '%s==>%s %s\n' "$BLUE" "$OFF" "$*" >&2; }
die() { printf '%srun.sh:%s %s\n' "$RED" "$OFF" "$*" >&2; exit 1; }

for b in user-service task-service gateway; do
	[ -x "$BIN/$b" ] || die "$BIN/$b is missing; run 'make run' (it builds first) or 'make build'"
done
command -v curl >/dev/null || die "curl is needed (to wait for the gateway); please install it"

mkdir -p "$LOGS" "$LOCAL/keys"
chmod 700 "$LOCAL/keys"

# host:port → port; ":8080" and "8080" work too.
port_of() { local a="$1"; echo "${a##*:}"; }
# The address to connect to for a listen address (":8080" means localhost).
dial_of() { local a="$1" h="${1%:*}"; [ -n "$h" ] && [ "$h" != "$a" ] && [ "$h" != "0.0.0.0" ] && [ "$h" != "[::]" ] && echo "$a" || echo "127.0.0.1:$(port_of "$a")"; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

for a in "$HTTP_ADDR" "$USER_GRPC_ADDR" "$TASK_GRPC_ADDR" "$GATEWAY_ADMIN_ADDR" "$USER_ADMIN_ADDR" "$TASK_ADMIN_ADDR"; do
	if port_busy "$(port_of "$a")"; then
		die "port $(port_of "$a") is in use (another 'make run'?); stop it or choose other addresses with HTTP_ADDR, USER_GRPC_ADDR, TASK_GRPC_ADDR, *_ADMIN_ADDR"
	fi
done

# ---------------------------------------------------------------- cleanup
PIDS=()       # service pids, in start order
NAMES=()
PG_STARTED="" # set when this script started the local cluster
AS_PG=()      # runs a command as the cluster's owner (the postgres OS user when root)
# as_pg runs a command as the cluster's owner, from / (the checkout may be
# closed to that user).
as_pg() { (cd / && "${AS_PG[@]}" "$@"); }
CLEANED=""

cleanup() {
	[ -n "$CLEANED" ] && return
	CLEANED=1
	trap '' INT TERM
	local i
	# Stop in reverse order: gateway first, the user service last.
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		if kill -0 "${PIDS[i]}" 2>/dev/null; then
			say "stopping ${NAMES[i]} (pid ${PIDS[i]})"
			kill -TERM "${PIDS[i]}" 2>/dev/null || true
			local n=0
			while kill -0 "${PIDS[i]}" 2>/dev/null && [ $n -lt 150 ]; do sleep 0.1; n=$((n + 1)); done
			if kill -0 "${PIDS[i]}" 2>/dev/null; then
				say "${NAMES[i]} did not stop within 15s; killing it"
				kill -KILL "${PIDS[i]}" 2>/dev/null || true
			fi
			wait "${PIDS[i]}" 2>/dev/null || true
		fi
	done
	if [ -n "$PG_STARTED" ]; then
		say "stopping PostgreSQL"
		as_pg "$PGBIN/pg_ctl" stop -D "$PGDATA" -m fast -w >/dev/null || say "pg_ctl stop failed; see $PGLOG"
	fi
	say "stopped"
}
trap 'cleanup; exit 0' INT TERM
trap 'cleanup' EXIT

# Commands prefixed with "${DETACH[@]}" run in their own session, so that
# Ctrl-C reaches only this script, which then stops everything in order. (An
# array, not a function: "$!" of a backgrounded function would be a subshell,
# not the service.)
DETACH=()
command -v setsid >/dev/null && DETACH=(setsid)

# A random hex secret.
secret() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

# ------------------------------------------------------------ signing key
if [ ! -s "$KEY" ]; then
	say "creating a local token signing key at ${KEY#"$ROOT/"}"
	if command -v openssl >/dev/null && openssl genpkey -algorithm ed25519 -out "$KEY" 2>/dev/null; then
		:
	else
		# No openssl (or one without Ed25519): the same PKCS #8 PEM from Go.
		tmp="$(mktemp -d)"
		cat >"$tmp/keygen.go" <<'GO'
package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
)

func main() {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		panic(err)
	}
	if err := pem.Encode(os.Stdout, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		panic(err)
	}
}
GO
		(umask 077 && GOWORK=off go run "$tmp/keygen.go" >"$KEY")
		rm -rf "$tmp"
	fi
	chmod 600 "$KEY"
fi

# -------------------------------------------------------------------- TLS
USER_TLS=() TASK_TLS=() GATEWAY_TLS=() SCHEME=http CURL_TLS=() GRPCURL_TLS="-plaintext"
if [ "$RUN_TLS" = 1 ]; then
	TLSDIR="$LOCAL/tls"
	say "TLS on every hop (certificates in ${TLSDIR#"$ROOT/"})"
	go run ./pkg/certgen/cmd/certgen "$TLSDIR" || die "could not make the local certificates"
	server=(TLS_CERT_FILE="$TLSDIR/server.crt" TLS_KEY_FILE="$TLSDIR/server.key")
	mtls=(TLS_CLIENT_CA_FILE="$TLSDIR/ca.crt" TLS_CLIENT_NAMES=todo-internal)
	upstream=(UPSTREAM_CA_FILE="$TLSDIR/ca.crt" UPSTREAM_CERT_FILE="$TLSDIR/client.crt" UPSTREAM_KEY_FILE="$TLSDIR/client.key")
	USER_TLS=("${server[@]}" "${mtls[@]}")
	TASK_TLS=("${server[@]}" "${mtls[@]}" "${upstream[@]}")
	GATEWAY_TLS=("${server[@]}" "${upstream[@]}")
	SCHEME=https
	CURL_TLS=(--cacert "$TLSDIR/ca.crt")
	GRPCURL_TLS="-cacert $TLSDIR/ca.crt -cert $TLSDIR/client.crt -key $TLSDIR/client.key"
fi

# --------------------------------------------------------------- database
ADMIN_NOTE=""
if [ -n "${DATABASE_URL:-}" ]; then
	say "using DATABASE_URL (no local PostgreSQL)"
	[ -n "${USER_DATABASE_URL:-}" ] && [ -n "${TASK_DATABASE_URL:-}" ] ||
		die "with DATABASE_URL, set USER_DATABASE_URL and TASK_DATABASE_URL too: the DSNs of the user and the task service's login roles (members of todo_user_svc and todo_task_svc, made after the first migrate up; see README, Neon)"
	USER_DSN="$USER_DATABASE_URL"
	TASK_DSN="$TASK_DATABASE_URL"
	MIGRATE_DSN="${MIGRATE_DATABASE_URL:-$DATABASE_URL}"
	[ -n "${MIGRATE_DATABASE_URL:-}" ] && say "migrating through MIGRATE_DATABASE_URL"
else
	PGBIN=""
	if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then
		PGBIN="$(pg_config --bindir)"
	else
		PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
	fi
	[ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] || die "PostgreSQL server binaries not found; run 'make postgres' or set DATABASE_URL"

	PGROOT="$LOCAL/pg"
	if [ "$(id -u)" = 0 ]; then
		# initdb and postgres refuse to run as root: they run as the postgres
		# OS user, which must own the cluster's folder.
		id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' OS user (installed with PostgreSQL)"
		AS_PG=(runuser -u postgres --)
		mkdir -p "$PGROOT"
		chown postgres: "$PGROOT"
		if ! as_pg test -w "$PGROOT"; then
			# A parent folder (e.g. /root) is closed to the postgres user: keep
			# the cluster in its home instead, one per checkout.
			alt="$(getent passwd postgres | cut -d: -f6)/todo-$(printf %s "$ROOT" | cksum | cut -d' ' -f1)"
			say "the postgres user cannot reach $PGROOT; keeping the cluster in $alt"
			as_pg mkdir -p "$alt"
			PGROOT="$alt"
		fi
	fi
	PGDATA="$PGROOT/data"
	PGSOCK="$PGROOT/run"
	PGLOG="$PGROOT/postgres.log"
	SUPERPASS_FILE="$LOCAL/pg-superuser.password"
	USERPASS_FILE="$LOCAL/pg-todo_user_login.password"
	TASKPASS_FILE="$LOCAL/pg-todo_task_login.password"

	if [ ! -s "$PGDATA/PG_VERSION" ]; then
		say "initialising a PostgreSQL cluster in ${PGDATA#"$ROOT/"} (first run)"
		(umask 077 && secret >"$SUPERPASS_FILE")
		pwfile="$(mktemp)"
		cp "$SUPERPASS_FILE" "$pwfile"
		[ ${#AS_PG[@]} -gt 0 ] && chown postgres: "$pwfile"
		as_pg mkdir -p "$PGDATA"
		locale=C.UTF-8
		as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=scram-sha-256 --pwfile="$pwfile" \
			--encoding=UTF8 --locale="$locale" >"$LOGS/initdb.log" 2>&1 ||
			as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=scram-sha-256 --pwfile="$pwfile" \
				--encoding=UTF8 --locale=C >"$LOGS/initdb.log" 2>&1 ||
			{ rm -f "$pwfile"; die "initdb failed; see $LOGS/initdb.log"; }
		rm -f "$pwfile"
	fi
	[ -s "$SUPERPASS_FILE" ] || die "$SUPERPASS_FILE is missing: the cluster's superuser password is unknown; delete $PGROOT to start over"
	as_pg mkdir -p "$PGSOCK"

	if as_pg "$PGBIN/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1; then
		say "PostgreSQL is already running in ${PGDATA#"$ROOT/"}; using it (it stays up afterwards)"
	else
		port_busy "$PGPORT_LOCAL" && die "port $PGPORT_LOCAL is in use; choose another with PGPORT_LOCAL"
		say "starting PostgreSQL on 127.0.0.1:$PGPORT_LOCAL"
		(cd / && "${DETACH[@]}" "${AS_PG[@]}" "$PGBIN/pg_ctl" start -D "$PGDATA" -l "$PGLOG" -w -t 60 \
			-o "-c listen_addresses=127.0.0.1 -p $PGPORT_LOCAL -c unix_socket_directories='$PGSOCK'" >/dev/null) ||
			die "PostgreSQL did not start; see $PGLOG"
		PG_STARTED=1
	fi
	# The port the running cluster listens on (it may have been started
	# earlier with another PGPORT_LOCAL).
	PGPORT_RUNNING="$(sed -n 4p "$PGDATA/postmaster.pid" 2>/dev/null || true)"
	PGPORT_RUNNING="${PGPORT_RUNNING:-$PGPORT_LOCAL}"

	SUPERPASS="$(cat "$SUPERPASS_FILE")"
	# The password goes through the environment, not the command line.
	psql_super() {
		PGPASSWORD="$SUPERPASS" "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 \
			-h 127.0.0.1 -p "$PGPORT_RUNNING" -U postgres -d "$1" "${@:2}"
	}

	if [ -z "$(psql_super postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'todo'")" ]; then
		say "creating database todo"
		psql_super postgres -c "CREATE DATABASE todo"
	fi
	MIGRATE_DSN="postgres://postgres:$SUPERPASS@127.0.0.1:$PGPORT_RUNNING/todo?sslmode=disable"
fi

say "applying migrations (user, then task)"
DATABASE_URL="$MIGRATE_DSN" "$BIN/user-service" migrate up >>"$LOGS/migrate.log" 2>&1 ||
	{ tail -n 20 "$LOGS/migrate.log" >&2; die "user-service migrate up failed; see $LOGS/migrate.log"; }
DATABASE_URL="$MIGRATE_DSN" "$BIN/task-service" migrate up >>"$LOGS/migrate.log" 2>&1 ||
	{ tail -n 20 "$LOGS/migrate.log" >&2; die "task-service migrate up failed; see $LOGS/migrate.log"; }

if [ ! -s "$DATA_KEYRING" ]; then
	# The keys that encrypt full names (a Tink keyset); `keys rotate` makes
	# the file on first use and connects to no database.
	say "creating the data keyring at ${DATA_KEYRING#"$ROOT/"}"
	DATABASE_URL="$MIGRATE_DSN" DATA_KEYRING_FILE="$DATA_KEYRING" "$BIN/user-service" keys rotate >>"$LOGS/keys.log" 2>&1 ||
		{ tail -n 20 "$LOGS/keys.log" >&2; die "user-service keys rotate failed; see $LOGS/keys.log"; }
fi
if [ -z "${DATABASE_URL:-}" ]; then
	# Each service logs in as its own role: a member of its service's group
	# only, owning nothing, no superuser, no BYPASSRLS (they refuse anything
	# else). todo_svc, the shared login of older checkouts, is left alone:
	# its group todo_app has no privilege left after the migrations.
	login_role() { # role group password-file
		[ -s "$3" ] || (umask 077 && secret >"$3")
		psql_super todo -v role="$1" -v grp="$2" -v pw="$(cat "$3")" >/dev/null <<'SQL'
SET client_min_messages = warning;
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD %L', :'role', :'pw')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'role', :'pw') \gexec
SELECT format('GRANT %I TO %I', :'grp', :'role') \gexec
SQL
	}
	login_role todo_user_login todo_user_svc "$USERPASS_FILE"
	login_role todo_task_login todo_task_svc "$TASKPASS_FILE"
	USER_DSN="postgres://todo_user_login:$(cat "$USERPASS_FILE")@127.0.0.1:$PGPORT_RUNNING/todo?sslmode=disable"
	TASK_DSN="postgres://todo_task_login:$(cat "$TASKPASS_FILE")@127.0.0.1:$PGPORT_RUNNING/todo?sslmode=disable"

	# A local admin on first use; the password is printed once, never stored.
	if [ -z "$(psql_super todo -tAc 'SELECT 1 FROM "user" WHERE is_admin LIMIT 1')" ]; then
		admin_pw="$(secret | cut -c1-24)"
		DATABASE_URL="$USER_DSN" DATA_KEYRING_FILE="$DATA_KEYRING" ADMIN_EMAIL="admin@example.com" ADMIN_USERNAME="admin" ADMIN_PASSWORD="$admin_pw" \
			"$BIN/user-service" admin create >>"$LOGS/admin.log" 2>&1 ||
			{ tail -n 20 "$LOGS/admin.log" >&2; die "user-service admin create failed; see $LOGS/admin.log"; }
		ADMIN_NOTE="admin account created (shown only now): username admin, email admin@example.com, password $admin_pw"
	else
		ADMIN_NOTE="admin account: username admin (its password was printed by the first run)"
	fi
elif [ -n "${ADMIN_EMAIL:-}" ] && [ -n "${ADMIN_USERNAME:-}" ] && [ -n "${ADMIN_PASSWORD:-}" ]; then
	DATABASE_URL="$USER_DSN" DATA_KEYRING_FILE="$DATA_KEYRING" "$BIN/user-service" admin create >>"$LOGS/admin.log" 2>&1 ||
		{ tail -n 20 "$LOGS/admin.log" >&2; die "user-service admin create failed; see $LOGS/admin.log"; }
	ADMIN_NOTE="admin account ensured: $ADMIN_USERNAME <$ADMIN_EMAIL>"
fi

# Names stored in clear text before encryption existed (a database of an
# older checkout) are sealed now; on an encrypted database nothing is left.
DATABASE_URL="$USER_DSN" DATA_KEYRING_FILE="$DATA_KEYRING" "$BIN/user-service" keys reencrypt >>"$LOGS/keys.log" 2>&1 ||
	{ tail -n 20 "$LOGS/keys.log" >&2; die "user-service keys reencrypt failed; see $LOGS/keys.log"; }

# --------------------------------------------------------------- services
start() { # name, then env assignments
	local name="$1" log="$LOGS/$1.log"
	shift
	: >"$log"
	"${DETACH[@]}" env "$@" "$BIN/$name" serve >>"$log" 2>&1 &
	PIDS+=("$!")
	NAMES+=("$name")
	if [ "$RUN_LOGS" = tail ]; then
		# tail ends by itself once this script has exited (--pid), so the
		# services' shutdown lines still show.
		tail -n +1 -F --pid=$$ "$log" 2>/dev/null | sed -u "s/^/[$name] /" &
	fi
}

USER_DIAL="$(dial_of "$USER_GRPC_ADDR")"
TASK_DIAL="$(dial_of "$TASK_GRPC_ADDR")"
HTTP_DIAL="$(dial_of "$HTTP_ADDR")"

# wait_listening NAME ADDR: until the last started process accepts
# connections on ADDR (or dies).
wait_listening() {
	local i
	for i in $(seq 1 300); do
		port_busy "$(port_of "$2")" && return 0
		if ! kill -0 "${PIDS[-1]}" 2>/dev/null; then
			tail -n 20 "$LOGS/$1.log" >&2
			die "$1 exited during start-up; see $LOGS/$1.log"
		fi
		sleep 0.1
	done
	die "$1 did not listen on $2 within 30s; see $LOGS/$1.log"
}

# In dependency order: the task service fetches the token keys from the user
# service when it starts.
# Mail: to SMTP_URL when it is set, else appended to a file here.
MAIL_ENV=()
if [ -n "${SMTP_URL:-}" ]; then
	MAIL_NOTE="mail           sent through SMTP_URL"
else
	MAIL_ENV=(MAIL_LOG_FILE="$LOGS/mail.log")
	MAIL_NOTE="mail           ${LOGS#"$ROOT/"}/mail.log (no SMTP_URL: nothing is sent; verification and reset tokens are there)"
fi
say "starting user-service, task-service and gateway (logs in ${LOGS#"$ROOT/"}/)"
start user-service DATABASE_URL="$USER_DSN" GRPC_ADDR="$USER_GRPC_ADDR" ADMIN_ADDR="$USER_ADMIN_ADDR" TOKEN_PRIVATE_KEY_FILE="$KEY" DATA_KEYRING_FILE="$DATA_KEYRING" "${MAIL_ENV[@]}" "${USER_TLS[@]}"
wait_listening user-service "$USER_DIAL"
start task-service DATABASE_URL="$TASK_DSN" GRPC_ADDR="$TASK_GRPC_ADDR" ADMIN_ADDR="$TASK_ADMIN_ADDR" USER_SERVICE_ADDR="$USER_DIAL" "${TASK_TLS[@]}"
wait_listening task-service "$TASK_DIAL"
start gateway HTTP_ADDR="$HTTP_ADDR" ADMIN_ADDR="$GATEWAY_ADMIN_ADDR" USER_SERVICE_ADDR="$USER_DIAL" TASK_SERVICE_ADDR="$TASK_DIAL" "${GATEWAY_TLS[@]}"

# Wait until the gateway says both services are SERVING.
for i in $(seq 1 300); do
	if curl -fsS "${CURL_TLS[@]}" -o /dev/null "$SCHEME://$HTTP_DIAL/readyz" 2>/dev/null; then break; fi
	for j in "${!PIDS[@]}"; do
		if ! kill -0 "${PIDS[j]}" 2>/dev/null; then
			tail -n 20 "$LOGS/${NAMES[j]}.log" >&2
			die "${NAMES[j]} exited during start-up; see $LOGS/${NAMES[j]}.log"
		fi
	done
	[ "$i" = 300 ] && die "the gateway was not ready after 30s: $(curl -sS "${CURL_TLS[@]}" "$SCHEME://$HTTP_DIAL/readyz" 2>&1)"
	sleep 0.1
done

cat >&2 <<EOF

${GREEN}todo is running${OFF}
  REST gateway   $SCHEME://$HTTP_DIAL   (OpenAPI: $SCHEME://$HTTP_DIAL/openapi.json, reference: /docs, readiness: /readyz)
  user service   grpc://$USER_DIAL   (grpcurl $GRPCURL_TLS $USER_DIAL list)
  task service   grpc://$TASK_DIAL   (grpcurl $GRPCURL_TLS $TASK_DIAL list)
  admin ports    http://$(dial_of "$GATEWAY_ADMIN_ADDR") gateway, http://$(dial_of "$USER_ADMIN_ADDR") user, http://$(dial_of "$TASK_ADMIN_ADDR") task   (/metrics, /readyz, /debug/pprof/)
  logs           ${LOGS#"$ROOT/"}/{user-service,task-service,gateway}.log
  $MAIL_NOTE
EOF
[ -n "$ADMIN_NOTE" ] && printf '  %s\n' "$ADMIN_NOTE" >&2
cat >&2 <<EOF

Try it: sign up, then log in.
  curl -sS ${CURL_TLS[*]} -X POST $SCHEME://$HTTP_DIAL/v1/users -H 'Content-Type: application/json' \\
    -d '{"email":"ann@example.com","username":"ann","password":"correct horse battery"}'
  curl -sS ${CURL_TLS[*]} -X POST $SCHEME://$HTTP_DIAL/v1/auth/login -H 'Content-Type: application/json' \\
    -d '{"login":"ann","password":"correct horse battery"}'

Press Ctrl-C to stop everything.

EOF

# Run until Ctrl-C, or until a service dies on its own.
while :; do
	for j in "${!PIDS[@]}"; do
		if ! kill -0 "${PIDS[j]}" 2>/dev/null; then
			wait "${PIDS[j]}" && rc=0 || rc=$?
			say "${NAMES[j]} exited (status $rc); stopping the rest"
			exit 1
		fi
	done
	sleep 1 &
	wait $! || true
done
