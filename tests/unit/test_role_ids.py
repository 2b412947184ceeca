"""Each Azure built-in role id is written once in the project's code: shared/roles.py. Everything
else (code, tests, tools, bench) refers to it there, so a wrong id cannot hide in two copies that
agree. Data files (the shipped PEC list, sample offers, the emulator's role definitions, each
citing its source) and the emulator's own code, which never imports shared/, are not code here."""

from __future__ import annotations

import re
import subprocess
from collections import Counter

from shared import roles
from tests.support.services import ROOT

GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
CODE = (".py", ".sh", ".ps1")


def _code_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [f for f in listed.split() if f.endswith(CODE) and not f.startswith("emulator/")]


def test_every_built_in_role_id_has_exactly_one_literal_and_it_is_in_the_roles_table():
    known = set(roles.BUILT_IN.values()) | roles.catalog().eligible | roles.catalog().not_eligible
    seen: Counter[str] = Counter()
    where: dict[str, set[str]] = {}
    for name in _code_files():
        for found in GUID.findall((ROOT / name).read_text(encoding="utf-8", errors="replace")):
            if found.lower() in known:
                seen[found.lower()] += 1
                where.setdefault(found.lower(), set()).add(name)
    repeated = {role: sorted(where[role]) for role, count in seen.items() if count > 1}
    assert not repeated, f"role ids written more than once (use shared/roles.py): {repeated}"
    outside = {role: sorted(files) for role, files in where.items() if files != {"shared/roles.py"}}
    assert not outside, f"role ids written outside shared/roles.py: {outside}"
    assert all(seen[role] == 1 for role in roles.BUILT_IN.values())


def test_the_table_agrees_with_the_shipped_pec_list():
    names = roles.catalog().names
    for name, role in roles.BUILT_IN.items():
        assert roles.is_guid(role), name
        if role in names:
            assert names[role] == name, (role, names[role], name)
