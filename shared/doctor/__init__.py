"""`palwatch doctor` and the `health` function's checks: settings, tokens, permissions, each with its fix.

`checks` runs them (`run_doctor`); `operations` probes the calls the engine makes, `reading` the
roles that reading needs, `mail` whether alert mail was proven, and `fixes` words each fix.
"""

from shared.doctor.checks import FAIL, GRAPH_ROLES, OK, SKIP, WARN, run_doctor

__all__ = ["FAIL", "GRAPH_ROLES", "OK", "SKIP", "WARN", "run_doctor"]
