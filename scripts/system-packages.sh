#!/usr/bin/env bash
# The system packages some tests use, installed when missing (Debian/Ubuntu as root), else named:
#   dataset-fashion-mnist  the original Fashion-MNIST IDX files (data tests, end-to-end runs)
#   chromium               loads the HTML run report and the serving page headless (report, serve tests)
#   postgresql             a real server for distributed hyperparameter search (tune tests)
# Called by `make test` (and so by CI); safe to run again: it does nothing when all are there.
set -euo pipefail
need=()
[ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
command -v chromium >/dev/null || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ ${#need[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "installing system packages for the tests: ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "note: not installed: ${need[*]} (run as root: apt-get install ${need[*]}); the tests that need them are skipped" >&2
fi
