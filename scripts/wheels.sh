#!/bin/sh
# wheels.sh REQUIREMENTS DIR: wheels of everything REQUIREMENTS (a pip requirements file)
# names, in DIR, for the dev image to install offline. Taken from the wheels kept in pip's
# cache ($XDG_CACHE_HOME/wheels) when it has them all, with no network: a requirement moved
# to a version used before needs none. Otherwise fetched (and mysqlclient's built) as pip
# does, and what was made kept in the cache for next time.
set -eu
requirements=$1
dir=$2
kept=${XDG_CACHE_HOME:-/cache}/wheels
mkdir -p "$kept" "$dir"
if /appenv/bin/pip wheel --quiet --no-index --find-links "$kept" --wheel-dir "$dir" -r "$requirements" 2>/dev/null; then
  echo "wheels.sh: every requirement's wheel came from pip's cache"
  exit 0
fi
echo "wheels.sh: pip's cache lacks some of the requirements: fetching them"
/appenv/bin/pip wheel --find-links "$kept" --wheel-dir "$dir" -r "$requirements"
cp "$dir"/*.whl "$kept"/
