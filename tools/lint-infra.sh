#!/usr/bin/env bash
# Offline checks of the deployment files, run by `make lint` (and so by CI):
#   1. Bicep syntax (pycep-parser; the Bicep CLI cannot be installed here), then what the files
#      must say (tools/check_infra.py: alert rules, the identity's locked group, workbook, onboarding)
#   2. azure.yaml against the local copy of azd's schema
#   3. every app setting the engine reads is set by infra/ and documented
#   4. bash -n (and shellcheck when installed) on the scripts
#   5. checkov (bicep + arm) on infra/ and customer-onboarding/, in its own venv
# Needs only PyPI: checkov is installed once into $CHECKOV_VENV (pinned; re-installed when the
# pin changes) and then reused, so later runs take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PY:-.venv/bin/python}"
CHECKOV_VERSION="3.3.30"
CHECKOV_VENV="${CHECKOV_VENV:-.venv-checkov}"
PYTHON="${PYTHON:-python3.11}"

echo "== Bicep syntax (pycep-parser)"
"$PY" -m tools.check_bicep

echo "== alert rules, the identity's group and lock, workbook, onboarding templates"
"$PY" -m tools.check_infra

echo "== azure.yaml schema"
"$PY" -m tools.check_azure_yaml azure.yaml

echo "== app settings: read by code -> set in infra/ and documented"
"$PY" -m tools.settings_coverage

echo "== shell scripts"
bash -n scripts/grant-permissions.sh tools/lint-infra.sh
if command -v shellcheck >/dev/null 2>&1; then
  shellcheck scripts/grant-permissions.sh tools/lint-infra.sh
else
  echo "shellcheck not installed; bash -n only (apt-get install shellcheck to add it)"
fi

echo "== checkov ${CHECKOV_VERSION} (own venv: ${CHECKOV_VENV})"
stamp="${CHECKOV_VENV}/.checkov-${CHECKOV_VERSION}"
if [[ ! -f "$stamp" ]]; then
  rm -rf "$CHECKOV_VENV"
  "$PYTHON" -m venv "$CHECKOV_VENV"
  echo "installing checkov==${CHECKOV_VERSION} into ${CHECKOV_VENV} (once; later runs reuse it)"
  if ! "$CHECKOV_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "checkov==${CHECKOV_VERSION}" >"${CHECKOV_VENV}/install.log" 2>&1; then
    cat "${CHECKOV_VENV}/install.log" >&2
    exit 1
  fi
  touch "$stamp"
fi
# --skip-download: no Prisma Cloud calls. Findings are fixed or justified inline with
# `//checkov:skip=ID:reason` comments. checkov skips a file it cannot parse and still passes,
# so a parsing error fails here (its bundled pycep-parser is older than ours: e.g. no lambdas,
# at most 4 comment lines in a row inside a resource).
run_checkov() {
  local out rc=0
  out="$(LOG_LEVEL=ERROR "$CHECKOV_VENV/bin/checkov" --compact --skip-download "$@" 2>&1)" || rc=$?
  grep -E "scan results|Passed checks" <<<"$out" || echo "checkov $*: no findings"
  if [[ $rc -ne 0 ]] || grep -qE "Parsing errors: [1-9]|Error parsing file" <<<"$out"; then
    printf '%s\n' "$out"
    echo "checkov failed on: $*" >&2
    return 1
  fi
}
run_checkov --framework bicep -d infra
run_checkov --framework arm bicep -d customer-onboarding
echo "lint-infra: all checks passed"
