#!/usr/bin/env bash
# The Action's install step (action.yml): scholar-stats' base install in its own venv, made by
# uv (hash-pinned in uv.txt) with the packages nothing imports left out (excludes.txt).
#
# Why: pip installed 57 packages, 193 MB, in about 36 s on every daily run of every homepage;
# this is about 40 packages and a third of the bytes in a fraction of the time, and a warm run
# (the venv restored by actions/cache under the key key.py prints) installs nothing at all.
# benchmarks/action_install.py measures both ways, cold and warm.
#
# Reads PYTHON (setup-python's interpreter), RUNNER_TEMP and GITHUB_ACTION_PATH; nothing from an
# input reaches this script.
set -euo pipefail

venv="$RUNNER_TEMP/scholar-stats-venv"
here="$GITHUB_ACTION_PATH/install"

# a venv restored from the cache: its key covers this Python, the package and these files
if "$venv/bin/python" -c "import scholar_stats" 2>/dev/null; then
  echo "scholar-stats: installed (restored from the cache)"
  exit 0
fi
rm -rf "$venv"

tools="$RUNNER_TEMP/scholar-stats-uv"
"$PYTHON" -m pip install --quiet --disable-pip-version-check --no-cache-dir \
  --only-binary :all: --require-hashes --target "$tools" -r "$here/uv.txt"

# no uv.toml of the site's repository, no Python download: setup-python's interpreter only
export UV_CACHE_DIR="$RUNNER_TEMP/scholar-stats-uv-cache" UV_NO_CONFIG=1
export UV_PYTHON_DOWNLOADS=never UV_NO_PROGRESS=1
"$tools/bin/uv" venv --quiet --python "$PYTHON" "$venv"
"$tools/bin/uv" pip install --quiet --python "$venv/bin/python" \
  --excludes "$here/excludes.txt" "$GITHUB_ACTION_PATH"
echo "scholar-stats: installed"
