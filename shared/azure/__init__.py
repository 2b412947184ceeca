"""Adapters over Azure's HTTP APIs: the only place that talks HTTP to Entra ID, ARM and Graph."""
