#!/bin/sh
# Installs the test requirements when they differ from those the image was built with (pip's
# cache lives in the `cache` volume container), then runs the container's command inside the
# application's virtualenv.
set -eu
# The virtualenv is made in the image (install-python.sh): there is nothing to follow at lint time
# shellcheck source=/dev/null
. /appenv/bin/activate
if ! cmp -s requirements.txt /appenv/requirements.txt || ! cmp -s requirements_test.txt /appenv/requirements_test.txt; then
  pip install -r requirements_test.txt
fi
exec "$@"
