"""Offline checks for the deployment files (Bicep, ARM, azure.yaml, app-settings coverage).

Run by tools/lint-infra.sh from `make lint` and imported by tests/unit/test_infra*.py and
tests/unit/test_settings_coverage*.py. Nothing here is deployed (.funcignore keeps tools/ out).
"""
