"""The engine's functions stay small at the door: no function in shared/ takes more than six
parameters unless a `# params:` comment on its def line(s) says why.

Parameters that always travel together belong in a small frozen dataclass; a long list is
allowed where it mirrors something outside (an SDK's options, a wire format) and says so.
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
MOST_PARAMETERS = 6
REASON = "# params:"


def _parameters(node: ast.FunctionDef | ast.AsyncFunctionDef, *, method: bool) -> list[str]:
    """Every parameter a caller can pass: positional, keyword-only, `*args` and `**kwargs`
    (the first one of a method, `self` or `cls`, is not counted)."""
    args = node.args
    names = [a.arg for a in (*args.posonlyargs, *args.args)]
    if method and names and names[0] in {"self", "cls"}:
        names = names[1:]
    names += [a.arg for a in args.kwonlyargs]
    names += [f"*{a.arg}" for a in (args.vararg, args.kwarg) if a is not None]
    return names


def _header_comments(node: ast.FunctionDef | ast.AsyncFunctionDef, tokens: list[tokenize.TokenInfo]) -> str:
    """The comments of the def line(s): from `def` to the end of the line holding its colon."""
    start = (node.lineno, node.col_offset)
    depth, colon_line, comments = 0, None, []
    for token in tokens:
        if token.start < start:
            continue
        if colon_line is not None and token.start[0] > colon_line:
            break
        if token.type == tokenize.COMMENT:
            comments.append(token.string)
        elif token.type == tokenize.OP and colon_line is None:
            if token.string in "([{":
                depth += 1
            elif token.string in ")]}":
                depth -= 1
            elif token.string == ":" and depth == 0:
                colon_line = token.start[0]
    return "\n".join(comments)


def offenders(source: str, path: str) -> list[str]:
    """`path:line name(n parameters)` of each function over the limit without a written reason."""
    tree = ast.parse(source)
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    found: list[str] = []

    def visit(node: ast.AST, *, in_class: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                names = _parameters(child, method=in_class)
                if len(names) > MOST_PARAMETERS and REASON not in _header_comments(child, tokens):
                    found.append(f"{path}:{child.lineno} {child.name}({len(names)} parameters: {', '.join(names)})")
                visit(child, in_class=False)
            else:
                visit(child, in_class=isinstance(child, ast.ClassDef))

    visit(tree, in_class=False)
    return found


def test_no_function_in_shared_takes_more_than_six_parameters_without_a_reason() -> None:
    modules = sorted(SHARED.rglob("*.py"))
    assert modules, f"no modules under {SHARED}"
    found = [o for m in modules for o in offenders(m.read_text(encoding="utf-8"), str(m.relative_to(SHARED.parent)))]
    assert not found, (
        "More than six parameters: pass a small frozen dataclass, or write `# params: why`:\n" + "\n".join(found)
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f(a, b, c, d, e, f): ...", 0),
        ("def f(a, b, c, d, e, f, g): ...", 1),
        ("def f(a, b, c, *, d, e, f, g): ...", 1),  # keyword-only parameters count too
        ("def f(a, b, c, d, e, f, *rest): ...", 1),
        ("def f(a, b, c, d, e, f, **options): ...", 1),
        ("class C:\n    def m(self, a, b, c, d, e, f): ...", 0),  # self is not a parameter
        ("class C:\n    def m(self, a, b, c, d, e, f, g): ...", 1),
        ("def f(a, b, c, d, e, f, g): ...  # params: mirrors smtplib's options", 0),
        ("def f(  # params: the wire format's fields\n    a, b, c, d, e, f, g\n):\n    return a", 0),
        ("def f(\n    a, b, c, d, e, f, g\n):\n    # params: too late, inside the body\n    return a", 1),
        ("def outer():\n    def inner(a, b, c, d, e, f, g): ...\n    return inner", 1),
        ("def f(a, b, c, d, e, f, g):  # noqa: PLR0913\n    return a", 1),  # a linter's waiver is no reason
    ],
)
def test_the_rule_counts_what_a_caller_passes(source: str, expected: int) -> None:
    assert len(offenders(source, "m.py")) == expected
