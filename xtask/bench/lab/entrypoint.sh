#!/bin/sh
# Runs the container's command inside the application's virtualenv.
set -eu
. /appenv/bin/activate
exec "$@"
