"""`make bench`: one verification of a generated large estate in the emulator, against a plain
sequential loop over Microsoft's SDK clients (see bench/__main__.py and BENCHMARKS.md)."""
