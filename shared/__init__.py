"""PAL Watch engine: the code behind the function triggers and the `palwatch` CLI.

Layers, top to bottom (checked by import-linter in `make lint`): use cases, then pure
decisions (shared.decisions) beside the adapters (azure, store, notify) and event parsing, then
settings and the domain model.
"""
