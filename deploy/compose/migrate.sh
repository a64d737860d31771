#!/bin/sh
# The one-shot migrate service of docker-compose.yml (the Dockerfile's
# migrate target): the keys the user service needs, made once into the
# keys volume; the migrations, user set then task set, over the direct URL
# as the owner; then the two login roles the services connect as (README:
# Running on Neon, step 2), made once.
set -eu

keys=/keys
if [ ! -s "$keys/token.pem" ]; then
	(umask 077 && openssl genpkey -algorithm ed25519 -out "$keys/token.pem")
	echo "made the token signing key"
fi
if [ ! -s "$keys/keyring.json" ]; then
	DATABASE_URL="$MIGRATE_DATABASE_URL" DATA_KEYRING_FILE="$keys/keyring.json" /usr/local/bin/user-service keys rotate
	echo "made the data keyring"
fi

DATABASE_URL="$MIGRATE_DATABASE_URL" /usr/local/bin/user-service migrate up
DATABASE_URL="$MIGRATE_DATABASE_URL" /usr/local/bin/task-service migrate up

psql "$MIGRATE_DATABASE_URL" -q -v ON_ERROR_STOP=1 \
	-v user_pw="$USER_LOGIN_PASSWORD" -v task_pw="$TASK_LOGIN_PASSWORD" <<'SQL'
SET client_min_messages = warning;
SELECT format('CREATE ROLE todo_user_login LOGIN PASSWORD %L IN ROLE todo_user_svc', :'user_pw')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'todo_user_login') \gexec
SELECT format('CREATE ROLE todo_task_login LOGIN PASSWORD %L IN ROLE todo_task_svc', :'task_pw')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'todo_task_login') \gexec
SQL
echo "migrations applied; login roles in place"
