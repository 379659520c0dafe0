#!/bin/sh
# Entrypoint of the database image. It honours the official mysql image's environment:
# MYSQL_ROOT_PASSWORD, MYSQL_ALLOW_EMPTY_PASSWORD, MYSQL_RANDOM_ROOT_PASSWORD, MYSQL_ROOT_HOST,
# MYSQL_DATABASE, MYSQL_USER, MYSQL_PASSWORD, and a *_FILE variant of each (secrets).
# Unlike it, a first start runs no temporary server: the system tables were made when the image
# was built (an empty data directory, a new volume or a tmpfs, gets a copy of them), and the few
# statements that create the database, the user and the passwords reach the server through
# --init-file, which it runs before it accepts any connection. So the user can log in as soon
# as the server listens, and never before. Passwords never touch the disk or a command line:
# the SQL is a here-document, which dash passes through a pipe.
set -eu

DATADIR=/var/lib/mysql
# The system tables, made when the image was built
SYSTEM_TABLES=/usr/local/share/todobackend-db/data
# Made by the last statement of the initialisation SQL, so it exists only if every statement
# before it succeeded
MARKER="$DATADIR/mysql/todobackend_initialised.frm"

# error LINE...: print the lines (the first one tagged) on stderr, then fail
error() {
	printf >&2 'entrypoint: error: %s\n' "$1"
	shift
	if [ "$#" -gt 0 ]; then
		printf >&2 '%s\n' "$@"
	fi
	exit 1
}
warn() {
	printf >&2 'entrypoint: warning: %s\n' "$1"
}

# `docker run IMAGE --option` passes options to the server
if [ "${1#-}" != "$1" ]; then
	set -- mariadbd "$@"
fi

# Anything but the server (a shell, the client, ...) runs as is
case "$1" in
	mariadbd | mysqld) ;;
	*) exec "$@" ;;
esac

# Started as root (the default): give the data directory to the server's user (a bind mount
# may be root's), then run this script again as that user
if [ "$(id -u)" = 0 ]; then
	find "$DATADIR" \! -user mysql -exec chown mysql:mysql '{}' +
	exec setpriv --reuid=mysql --regid=mysql --init-groups "$0" "$@"
fi

# A restarted container, or a data volume that outlived its container: start as it is
if [ -e "$MARKER" ]; then
	exec "$@"
fi

# file_env VAR: VAR's value, or else the contents of the file that VAR_FILE names
file_env() {
	eval "value=\${$1:-} file=\${$1_FILE:-}"
	if [ -n "$value" ] && [ -n "$file" ]; then
		error "both $1 and $1_FILE are set (but are exclusive)"
	fi
	if [ -n "$file" ]; then
		value=$(cat -- "$file")
	fi
	eval "$1=\$value"
	unset "$1_FILE"
}
for var in MYSQL_ROOT_PASSWORD MYSQL_ALLOW_EMPTY_PASSWORD MYSQL_RANDOM_ROOT_PASSWORD \
	MYSQL_ROOT_HOST MYSQL_DATABASE MYSQL_USER MYSQL_PASSWORD; do
	file_env "$var"
done

if [ -z "$MYSQL_ROOT_PASSWORD" ] && [ -z "$MYSQL_ALLOW_EMPTY_PASSWORD" ] && [ -z "$MYSQL_RANDOM_ROOT_PASSWORD" ]; then
	error 'Database is uninitialized and password option is not specified' \
		'    You need to specify one of the following as an environment variable:' \
		'    - MYSQL_ROOT_PASSWORD' \
		'    - MYSQL_ALLOW_EMPTY_PASSWORD' \
		'    - MYSQL_RANDOM_ROOT_PASSWORD'
fi
if [ "$MYSQL_USER" = root ]; then
	error 'MYSQL_USER="root", MYSQL_USER and MYSQL_PASSWORD are for configuring a regular user and cannot be used for the root user' \
		'    Remove MYSQL_USER="root" and use one of the following to control the root user password:' \
		'    - MYSQL_ROOT_PASSWORD' \
		'    - MYSQL_ALLOW_EMPTY_PASSWORD' \
		'    - MYSQL_RANDOM_ROOT_PASSWORD'
fi
if [ -n "$MYSQL_RANDOM_ROOT_PASSWORD" ]; then
	MYSQL_ROOT_PASSWORD=$(LC_ALL=C tr -dc 'A-Za-z0-9' < /dev/urandom | head -c 32)
	echo "entrypoint: GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
fi

# string VALUE: VALUE as an SQL string literal. Values reach sed through a pipe, not argv, and
# only when they hold a character to escape
string() {
	case "$1" in
		*[\\\']*) printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g")" ;;
		*) printf "'%s'" "$1" ;;
	esac
}
# name VALUE: VALUE as an SQL identifier. The backticks are MySQL's identifier quotes, not
# command substitutions: single quotes keep them literal, as meant
# shellcheck disable=SC2016
name() {
	case "$1" in
		*\`*) printf '`%s`' "$(printf '%s' "$1" | sed -e 's/`/``/g')" ;;
		*) printf '`%s`' "$1" ;;
	esac
}

# like VALUE: VALUE as a pattern of database names in a GRANT, where _ and % are wildcards and
# \ escapes: each of the three stands for itself
like() {
	case "$1" in
		*[\\_%]*) printf '%s' "$1" | sed -e 's/[\\_%]/\\&/g' ;;
		*) printf '%s' "$1" ;;
	esac
}

root_host=$(string "${MYSQL_ROOT_HOST:-%}")
root_password=$(string "$MYSQL_ROOT_PASSWORD")
sql="-- root: from anywhere (MYSQL_ROOT_HOST) with the password; through the socket, with the
-- password or as the OS root
ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD($root_password) OR unix_socket;"
if [ "${MYSQL_ROOT_HOST:-%}" != localhost ]; then
	sql="$sql
CREATE USER 'root'@$root_host IDENTIFIED BY $root_password;
GRANT ALL ON *.* TO 'root'@$root_host WITH GRANT OPTION;"
fi
if [ -n "$MYSQL_DATABASE" ]; then
	sql="$sql
CREATE DATABASE IF NOT EXISTS $(name "$MYSQL_DATABASE");"
fi
if [ -n "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
	user=$(string "$MYSQL_USER")
	sql="$sql
CREATE USER $user@'%' IDENTIFIED BY $(string "$MYSQL_PASSWORD");"
	if [ -n "$MYSQL_DATABASE" ]; then
		# The database, as the official image grants it; then, unlike it, what a test runner
		# makes beside it: Django's test_<database>, and test_<database>_1..N, its clones for
		# parallel runs (`manage.py test --parallel N`), and nothing else
		grant_db=$(like "$MYSQL_DATABASE")
		sql="$sql
GRANT ALL ON $(name "$grant_db").* TO $user@'%';
GRANT ALL ON $(name "test\\_$grant_db").* TO $user@'%';
GRANT ALL ON $(name "test\\_$grant_db\\_%").* TO $user@'%';"
	fi
elif [ -n "$MYSQL_USER" ]; then
	warn 'MYSQL_USER specified, but missing MYSQL_PASSWORD; MYSQL_USER will not be created'
elif [ -n "$MYSQL_PASSWORD" ]; then
	warn 'MYSQL_PASSWORD specified, but missing MYSQL_USER; MYSQL_PASSWORD will be ignored'
fi
sql="$sql
CREATE TABLE mysql.todobackend_initialised (at TIMESTAMP DEFAULT CURRENT_TIMESTAMP) ENGINE=Aria;"

# An empty data directory (a new volume, a tmpfs, an empty bind mount) gets the image's
# system tables (about 20M: a few milliseconds on a tmpfs)
if [ ! -d "$DATADIR/mysql" ]; then
	cp -a "$SYSTEM_TABLES/." "$DATADIR/"
fi
echo 'entrypoint: first start: the server creates the database, user and passwords before it accepts connections'
# The server needs none of the secrets: keep them out of its environment
unset MYSQL_ROOT_PASSWORD MYSQL_PASSWORD
exec "$@" --init-file=/dev/fd/3 3<<SQL
$sql
SQL
