#!/usr/bin/env bash
# Create .venv and install CLODE Desktop into it (editable), with the extras named
# in $1 ("app" by default, "test" for the test tools).
#
# PyTorch: if pip's find-links folders (PIP_FIND_LINKS or pip config) already hold a
# torch wheel for this Python, that version is installed first, so the generic
# "torch>=2.2" requirement is satisfied by it and pip does not download the newest
# build with several GB of CUDA packages. Elsewhere pip picks the torch that fits.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-app}"
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)

if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    tag=$(.venv/bin/python -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
    links="${PIP_FIND_LINKS:-} $("${pip[@]}" config get global.find-links 2>/dev/null || true)"
    local_version=""
    for dir in $links; do
        dir="${dir#file://}"
        for wheel in "$dir"/torch-*-"$tag"-*.whl; do
            [ -f "$wheel" ] && local_version=$(basename "$wheel" | sed -E 's/^torch-([0-9.]+).*/\1/')
        done
    done
    if [ -n "$local_version" ]; then
        echo "Installing the local torch $local_version wheel"
        "${pip[@]}" install "torch==$local_version"
    fi
fi
"${pip[@]}" install -e ".[$extras]"
