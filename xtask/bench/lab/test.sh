#!/bin/sh
# Installs the test requirements (pip's cache lives in the `cache` volume container),
# then runs the container's command inside the application's virtualenv.
set -eu
. /appenv/bin/activate
pip install -r requirements_test.txt
exec "$@"
