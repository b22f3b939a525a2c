# Sourced by start.sh and tests/run.sh: make sure a virtual environment with Python >= 3.11 exists at .venv
# (CARTSCOPE_VENV overrides) and holds the packages of one requirements file, then set VENV_PYTHON to its
# python. On a fresh Debian or Ubuntu machine (no `python`, a system pip that refuses to install: PEP 668)
# it installs python3 and python3-venv with apt-get, as root or with sudo, when they are missing. Packages are
# installed again only when a requirements file changed.

_cartscope_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

_cartscope_as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else
    echo "error: '$*' needs root; run it as root or install sudo" >&2
    return 1
  fi
}

_cartscope_apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  echo "Installing $* with apt-get ..." >&2
  _cartscope_as_root apt-get update -qq && \
    _cartscope_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

_cartscope_find_python() {
  local candidate
  for candidate in python3.13 python3.12 python3.11 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 && \
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

ensure_venv() {
  local requirements="$1"
  local venv="${CARTSCOPE_VENV:-$_cartscope_root/.venv}"
  if [ -x "$venv/bin/python" ] && ! "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "The virtual environment at $venv has Python < 3.11: making it again." >&2
    rm -rf "$venv"
  fi
  if [ ! -x "$venv/bin/python" ]; then
    local python found
    # Debian 12 / Ubuntu 24.04: python3 is new enough; Ubuntu 22.04: python3.11 is a separate package.
    python="$(_cartscope_find_python)" || { _cartscope_apt_install python3 python3-venv && python="$(_cartscope_find_python)"; } \
      || { _cartscope_apt_install python3.11 python3.11-venv && python="$(_cartscope_find_python)"; } || {
      found="$(command -v python3 >/dev/null 2>&1 && python3 --version 2>&1 || echo "no python3")"
      echo "error: CARTscope needs Python >= 3.11 (Debian 12 and Ubuntu 24.04 ship it); found: $found" >&2
      return 1
    }
    if ! "$python" -m venv "$venv" >/dev/null 2>&1; then
      rm -rf "$venv"
      local minor
      minor="$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
      _cartscope_apt_install "python$minor-venv" || _cartscope_apt_install python3-venv || true
      "$python" -m venv "$venv" || {
        echo "error: could not create a virtual environment with $python; install its venv module" \
             "(Debian/Ubuntu: apt-get install python3-venv)" >&2
        return 1
      }
    fi
  fi
  VENV_PYTHON="$venv/bin/python"
  local stamp
  stamp="$requirements-$(cd "$_cartscope_root" && cat requirements*.txt | sha256sum | cut -c1-16)"
  if [ ! -f "$venv/.installed-$stamp" ]; then
    "$VENV_PYTHON" -m pip install --quiet --disable-pip-version-check -r "$_cartscope_root/$requirements"
    rm -f "$venv/.installed-$requirements-"*
    touch "$venv/.installed-$stamp"
  fi
}
