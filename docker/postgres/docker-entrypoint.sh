#!/bin/sh
# The official image's start-up contract, in POSIX sh: first start initialises $PGDATA with the
# superuser password from $POSTGRES_PASSWORD (SCRAM; extra initdb flags in $POSTGRES_INITDB_ARGS), runs /docker-entrypoint-initdb.d/* on a
# socket-only server, then execs "postgres" (extra arguments such as -c key=value pass through).
set -eu
first="${1:-}"
if [ "$first" = "postgres" ] || [ "${first#-}" != "$first" ]; then
    [ "$first" = "postgres" ] || set -- postgres "$@"
    if [ "$(id -u)" = 0 ]; then
        mkdir -p "$PGDATA" /var/run/postgresql
        chown postgres:postgres "$PGDATA" /var/run/postgresql
        chmod 700 "$PGDATA"
        exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
    fi
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        : "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD (the superuser password)}"
        pwfile=$(mktemp)
        printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
        initdb -D "$PGDATA" -U postgres --pwfile="$pwfile" --auth-host=scram-sha-256 \
            --auth-local=peer -E UTF8 --locale=C.UTF-8 --no-instructions ${POSTGRES_INITDB_ARGS:-} >/dev/null
        rm -f "$pwfile"
        echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
        echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
        postgres -D "$PGDATA" -c listen_addresses='' -c unix_socket_directories=/var/run/postgresql &
        pid=$!
        until pg_isready -q -h /var/run/postgresql; do sleep 0.1; done
        for f in /docker-entrypoint-initdb.d/*; do
            case "$f" in
                *.sql) echo "initdb: running $f"; psql -q -v ON_ERROR_STOP=1 -h /var/run/postgresql -U postgres -d postgres -f "$f" ;;
                *.sh) echo "initdb: running $f"; . "$f" ;;
            esac
        done
        kill -INT "$pid"
        wait "$pid" || true
        echo "initdb: done"
    fi
fi
exec "$@"
