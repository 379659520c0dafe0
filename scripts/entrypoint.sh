#!/bin/sh
# Runs the container's command inside the application's virtualenv.
set -eu
# The virtualenv is made in the image (install-python.sh): there is nothing to follow at lint time
# shellcheck source=/dev/null
. /appenv/bin/activate
exec "$@"
