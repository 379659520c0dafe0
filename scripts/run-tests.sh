#!/bin/sh
set -eu
# Runs the Django suite under coverage. JUnit XML (see the settings) and coverage XML land in
# $REPORTS_DIR; the exit status is the suite's, whatever happens to the reports. Coverage data
# comes in one file per process (.coveragerc: `--parallel N` runs tests in workers): combine
# them before the report.
mkdir -p "$REPORTS_DIR"
status=0
coverage run manage.py test --noinput "$@" || status=$?
if ! { coverage combine -q && coverage xml -q -o "$REPORTS_DIR/coverage.xml"; }; then
  echo "run-tests.sh: no coverage report" >&2
fi
exit "$status"
