# syntax=docker/dockerfile:1
#
# One image per binary, each a target of this file:
#
#   docker build --target user-service -t todo/user-service:dev .
#   docker build --target task-service -t todo/task-service:dev .
#   docker build --target gateway      -t todo/gateway:dev .
#   docker build --target pgbouncer    -t todo/pgbouncer:dev .
#   docker build --target migrate      -t todo/migrate:dev .     (docker-compose.yml)
#
# The service images are distroless/static: a static Go binary (no cgo)
# as the entrypoint, the nonroot user (65532), no shell; run them with a
# read-only root filesystem (docker run --read-only, read_only in
# docker-compose.yml, readOnlyRootFilesystem in deploy/k8s). /probe is
# their health check (deploy/cmd/probe). deploy/dockerfile_test.go checks
# this file against the code.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath GOTOOLCHAIN=local
# The modules first, so that a change of code reuses the downloaded ones.
COPY go.work go.work.sum ./
COPY api/go.mod api/go.sum api/
COPY api/openapigen/go.mod api/openapigen/go.sum api/openapigen/
COPY bench/go.mod bench/go.sum bench/
COPY deploy/go.mod deploy/go.sum deploy/
COPY pkg/go.mod pkg/go.sum pkg/
COPY services/gateway/go.mod services/gateway/go.sum services/gateway/
COPY services/task/go.mod services/task/go.sum services/task/
COPY services/user/go.mod services/user/go.sum services/user/
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags='-s -w' -o /out/user-service ./services/user && \
    go build -ldflags='-s -w' -o /out/task-service ./services/task && \
    go build -ldflags='-s -w' -o /out/gateway ./services/gateway && \
    go build -ldflags='-s -w' -o /out/probe ./deploy/cmd/probe

FROM gcr.io/distroless/static-debian12:nonroot AS user-service
COPY --from=build /out/user-service /user-service
COPY --from=build /out/probe /probe
USER 65532:65532
EXPOSE 50051 9091
HEALTHCHECK --interval=10s --timeout=4s --start-period=10s --retries=3 \
    CMD ["/probe", "grpc", "127.0.0.1:50051", "todo.user.v1.UserService"]
ENTRYPOINT ["/user-service"]
CMD ["serve"]

FROM gcr.io/distroless/static-debian12:nonroot AS task-service
COPY --from=build /out/task-service /task-service
COPY --from=build /out/probe /probe
USER 65532:65532
EXPOSE 50052 9092
HEALTHCHECK --interval=10s --timeout=4s --start-period=10s --retries=3 \
    CMD ["/probe", "grpc", "127.0.0.1:50052", "todo.task.v1.TaskService"]
ENTRYPOINT ["/task-service"]
CMD ["serve"]

FROM gcr.io/distroless/static-debian12:nonroot AS gateway
COPY --from=build /out/gateway /gateway
COPY --from=build /out/probe /probe
USER 65532:65532
EXPOSE 8080 9090
HEALTHCHECK --interval=10s --timeout=4s --start-period=10s --retries=3 \
    CMD ["/probe", "http", "http://127.0.0.1:9090/healthz"]
ENTRYPOINT ["/gateway"]

# The one-shot migrate service of docker-compose.yml: both binaries, psql
# and openssl, and deploy/compose/migrate.sh (keys, migrations, login
# roles).
FROM debian:bookworm-slim AS migrate
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client openssl ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/user-service /out/task-service /usr/local/bin/
COPY deploy/compose/migrate.sh /usr/local/bin/migrate.sh
# The keys volume takes this folder's owner when compose first mounts it.
RUN mkdir /keys && chown 65532:65532 /keys
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/migrate.sh"]

# PgBouncer as the tests run it: Debian's 1.18, as the postgres user, the
# configuration mounted at /etc/pgbouncer (docker-compose.yml, the local
# Kubernetes overlay).
FROM debian:bookworm-slim AS pgbouncer
RUN apt-get update && apt-get install -y --no-install-recommends pgbouncer && rm -rf /var/lib/apt/lists/*
USER postgres
EXPOSE 6432
ENTRYPOINT ["/usr/sbin/pgbouncer"]
CMD ["/etc/pgbouncer/pgbouncer.ini"]
