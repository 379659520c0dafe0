#!/bin/sh
set -eu
# Installs Debian's Python 3 and the MariaDB client library mysqlclient links against, and
# makes the virtualenv /appenv with the current pip; meanwhile, installs the packages given as
# arguments in an apt transaction of their own. The base image runs it bare, the development
# image with its build tools: one script, so both have the same Python. With APT_UPDATED=1,
# the caller has just fetched the package lists itself, and removes them once it no longer
# reads them.

[ "${APT_UPDATED:-}" = 1 ] || apt-get update
apt-get install -qy --no-install-recommends ca-certificates python3 python3-venv libmariadb3

# The current pip installs much faster than Debian's: run it straight from the pip wheel
# Debian ships, quicker than ensurepip's pip and setuptools followed by an upgrade. It
# downloads and installs while apt installs the rest: one core each.
venv() {
  python3 -m venv --without-pip /appenv
  wheel=$(echo /usr/share/python-wheels/pip-*.whl)
  /appenv/bin/python "$wheel/pip" install --no-cache-dir --upgrade pip
}
venv &
made=$!
[ $# -eq 0 ] || apt-get install -qy --no-install-recommends "$@"
wait "$made"
[ "${APT_UPDATED:-}" = 1 ] || rm -rf /var/lib/apt/lists/*
