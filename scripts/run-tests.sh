#!/bin/sh
# Runs the Django suite under coverage. JUnit XML (see the settings) and coverage XML land in
# $REPORTS_DIR; the exit status is the suite's, whatever happens to the reports.
set -eu
mkdir -p "$REPORTS_DIR"
status=0
coverage run manage.py test --noinput "$@" || status=$?
coverage xml -q -o "$REPORTS_DIR/coverage.xml" || echo "run-tests.sh: no coverage report" >&2
exit "$status"
