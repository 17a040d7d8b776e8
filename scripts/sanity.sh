#!/usr/bin/env bash
# Runs `ansible-test sanity` offline-safe: ansible-test wants to download a
# get-pip script from the internet; we give it a stand-in that installs pip from
# a wheel taken from PyPI (the only reachable index), cached in ~/.ansible.
# ansible-test also needs the collection under ansible_collections/<ns>/<name>,
# so the checkout is copied (tracked + new files, no .venv) into a temp tree.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
py="$here/.venv/bin/python"
pip_version=$("$py" - <<'PY'
import re, ansible_test, os
src = open(os.path.join(os.path.dirname(ansible_test.__file__), "_internal", "python_requirements.py")).read()
print(re.search(r"pip='([0-9.]+)'", src).group(1))
PY
)
cache="$HOME/.ansible/test/cache"
mkdir -p "$cache"
if ! ls "$cache"/pip-"$pip_version"-*.whl >/dev/null 2>&1; then
  "$py" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: -d "$cache" "pip==$pip_version"
fi
cp "$here/scripts/get_pip_standin.py" "$cache/get_pip_${pip_version//./_}.py"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/quantbot/hft"
mkdir -p "$dest"
(cd "$here" && git ls-files -co --exclude-standard -z -- . ":!:.collections") |
  (cd "$here" && rsync -a --from0 --files-from=- ./ "$dest/")
cd "$dest"
# ansible-test lists files with git when a repository is present.
git init -q && git add -A >/dev/null
export PATH="$here/.venv/bin:$PATH"
exec ansible-test sanity --local --python 3.11 --color no "$@"
