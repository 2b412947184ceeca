"""Use cases: what a trigger or a CLI command asks the engine to do.

Each entry point takes an `Engine` (settings, credentials, clients, store) and returns an
outcome value; function_app.py and shared/cli only call these. The decisions themselves
live in shared/decisions (pure); the I/O in the adapters (shared/azure, shared/store,
shared/notify).
"""
