#!/bin/sh
set -eu
# wheels.sh REQUIREMENTS KEPT DIR: wheels of everything REQUIREMENTS (a pip requirements file)
# names, in DIR, for the dev image to install offline. Taken from the wheels KEPT holds when
# it has them all, with no network: a requirement moved to a version used before needs none.
# Otherwise fetched (and mysqlclient's built) as pip does, and what was made kept in KEPT for
# next time. Every checkout on the engine shares KEPT: each wheel lands there whole, by a
# rename, so a build beside this one never reads half of one.
requirements=$1
kept=$2
dir=$3
mkdir -p "$dir"
# (Where KEPT holds no wheel yet, as on a first build, pip is not asked.)
if ls "$kept"/*.whl >/dev/null 2>&1 &&
  /appenv/bin/pip wheel --quiet --no-index --find-links "$kept" --wheel-dir "$dir" -r "$requirements" >/dev/null 2>&1; then
  echo "wheels.sh: every requirement's wheel was kept from an earlier build: none fetched"
  exit 0
fi
echo "wheels.sh: some requirements' wheels were never made here: fetching them"
/appenv/bin/pip wheel --no-cache-dir --find-links "$kept" --wheel-dir "$dir" -r "$requirements"
for wheel in "$dir"/*.whl; do
  name=${wheel##*/}
  [ -e "$kept/$name" ] || { cp "$wheel" "$kept/.$name.$$" && mv "$kept/.$name.$$" "$kept/$name"; }
done
