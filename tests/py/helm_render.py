# SPDX-License-Identifier: Apache-2.0
"""Render a Helm chart without helm: the part of Go's text/template and of Helm's functions that
deploy/helm/varpulis-cluster uses, and nothing more.

Supported: text with ``{{ }}`` actions and their ``{{-``/``-}}`` whitespace trimming, comments,
``define``/``include``, ``if``/``else if``/``else``/``end``, pipelines (``a | f x``), fields
(``.Values.a.b``, ``.Release.Name``, ``$``), string/number/bool literals, parentheses, and the
functions in ``FUNCTIONS``. Anything else raises ``TemplateError``, so a chart that starts using
more syntax fails its test instead of rendering wrongly. Values are values.yaml merged with
``--set``-style overrides (``a.b=c``; integers and booleans parsed as helm does).

When helm is installed, tests/py/test_deploy.py also compares this renderer with ``helm template``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

import yaml


class TemplateError(Exception):
    pass


class RequiredValueError(TemplateError):
    """A ``required`` value is missing (helm fails the same way)."""


# ---------------------------------------------------------------------------------------- lexing

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)


def _lex(text: str, name: str) -> list[tuple[str, str]]:
    """Split a template into ("text", s) and ("action", s) tokens, applying the trim markers."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    trim_next = False
    for m in _ACTION.finditer(text):
        chunk = text[pos:m.start()]
        if trim_next:
            chunk = chunk.lstrip()
        if m.group(1):
            chunk = chunk.rstrip()
        tokens.append(("text", chunk))
        body = m.group(2).strip()
        if "{{" in body:
            raise TemplateError(f"{name}: unbalanced braces near {body[:40]!r}")
        if not (body.startswith("/*") and body.endswith("*/")):
            tokens.append(("action", body))
        trim_next = bool(m.group(3))
        pos = m.end()
    rest = text[pos:]
    tokens.append(("text", rest.lstrip() if trim_next else rest))
    return tokens


# ----------------------------------------------------------------------------------- expressions

_EXPR_TOKEN = re.compile(r"""\s*(?:
    (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<field>\$?(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\$|\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[|()])
)""", re.X)


def _expr_tokens(src: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    src = src.strip()
    while pos < len(src):
        m = _EXPR_TOKEN.match(src, pos)
        if not m or m.end() == pos:
            raise TemplateError(f"cannot parse {src[pos:]!r} in {src!r}")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(src) and src[pos].isspace():
            pos += 1
    return out


class _Parser:
    """pipeline := command ('|' command)* ; command := operand+ ; operand := literal | field | '(' pipeline ')' | ident."""

    def __init__(self, src: str):
        self.tokens = _expr_tokens(src)
        self.i = 0
        self.src = src

    def parse(self):
        node = self.pipeline()
        if self.i != len(self.tokens):
            raise TemplateError(f"unexpected {self.tokens[self.i][1]!r} in {self.src!r}")
        return node

    def pipeline(self):
        commands = [self.command()]
        while self.i < len(self.tokens) and self.tokens[self.i] == ("punct", "|"):
            self.i += 1
            commands.append(self.command())
        return ("pipeline", commands)

    def command(self):
        operands = []
        while self.i < len(self.tokens) and self.tokens[self.i][1] not in ("|", ")"):
            operands.append(self.operand())
        if not operands:
            raise TemplateError(f"empty command in {self.src!r}")
        return operands

    def operand(self):
        kind, text = self.tokens[self.i]
        self.i += 1
        if kind == "punct" and text == "(":
            node = self.pipeline()
            if self.i >= len(self.tokens) or self.tokens[self.i] != ("punct", ")"):
                raise TemplateError(f"missing ) in {self.src!r}")
            self.i += 1
            return ("paren", node)
        if kind == "string":
            return ("lit", json.loads(text))
        if kind == "raw":
            return ("lit", text[1:-1])
        if kind == "number":
            return ("lit", float(text) if "." in text else int(text))
        if kind == "ident":
            if text in ("true", "false"):
                return ("lit", text == "true")
            if text == "nil":
                return ("lit", None)
            return ("func", text)
        if kind == "field":
            return ("field", text)
        raise TemplateError(f"unexpected {text!r} in {self.src!r}")


# ------------------------------------------------------------------------------------- functions

def _truthy(v: Any) -> bool:
    return v not in (None, False, 0, "") and not (isinstance(v, (dict, list)) and not v)


def _to_str(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dict, list)):
        raise TemplateError(f"cannot print a {type(v).__name__} without toYaml: {v!r}")
    return str(v)


def _printf(fmt: str, *args: Any) -> str:
    it = iter(args)
    return re.sub(r"%[svd%]", lambda m: "%" if m.group(0) == "%%" else _to_str(next(it)), fmt)


def _indent(n: int, s: str) -> str:
    pad = " " * n
    return "\n".join(pad + line for line in _to_str(s).split("\n"))


def _to_yaml(v: Any) -> str:
    if v is None:
        return "null"
    return yaml.safe_dump(v, default_flow_style=False, sort_keys=True).rstrip("\n")


def _required(msg: str, v: Any) -> Any:
    if v is None or v == "":
        raise RequiredValueError(msg)
    return v


def _default(dflt: Any, *v: Any) -> Any:
    return v[0] if v and _truthy(v[0]) else dflt


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "quote": lambda *v: " ".join(json.dumps(_to_str(x), ensure_ascii=False) for x in v),
    "b64enc": lambda s: base64.b64encode(_to_str(s).encode()).decode(),
    "sha256sum": lambda s: hashlib.sha256(_to_str(s).encode()).hexdigest(),
    "toYaml": _to_yaml,
    "indent": _indent,
    "nindent": lambda n, s: "\n" + _indent(n, s),
    "default": _default,
    "required": _required,
    "printf": _printf,
    "trunc": lambda n, s: _to_str(s)[:n] if n >= 0 else _to_str(s)[n:],
    "trimSuffix": lambda suffix, s: _to_str(s)[: -len(suffix)] if suffix and _to_str(s).endswith(suffix) else _to_str(s),
    "not": lambda v: not _truthy(v),
    "eq": lambda a, *b: any(a == x for x in b),
    "ne": lambda a, b: a != b,
    "and": lambda *v: next((x for x in v if not _truthy(x)), v[-1]),
    "or": lambda *v: next((x for x in v if _truthy(x)), v[-1]),
}


# -------------------------------------------------------------------------------------- template

class Chart:
    """A chart directory: Chart.yaml, values.yaml and templates/."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.meta = yaml.safe_load((self.path / "Chart.yaml").read_text())
        self.default_values = yaml.safe_load((self.path / "values.yaml").read_text()) or {}
        self.templates = {p.relative_to(self.path).as_posix(): p.read_text()
                          for p in sorted((self.path / "templates").iterdir()) if p.is_file()}

    def render(self, sets: Optional[Mapping[str, str]] = None, release: str = "release-name",
               namespace: str = "default", include_notes: bool = False) -> dict[str, str]:
        """Render every template; returns {"templates/x.yaml": text} (partials and NOTES.txt left out)."""
        values = copy.deepcopy(self.default_values)
        for key, raw in (sets or {}).items():
            _set_path(values, key, _parse_set_value(raw))
        context = {
            "Values": values,
            "Release": {"Name": release, "Namespace": namespace, "Service": "Helm", "IsInstall": True,
                        "IsUpgrade": False, "Revision": 1},
            "Chart": {"Name": self.meta["name"], "Version": self.meta["version"],
                      "AppVersion": self.meta.get("appVersion", "")},
        }
        engine = _Engine()
        parsed = {name: engine.parse(text, name) for name, text in self.templates.items()}
        out = {}
        for name, body in parsed.items():
            base = name.rsplit("/", 1)[-1]
            if base.startswith("_") or (base == "NOTES.txt" and not include_notes):
                continue
            out[name] = engine.execute(body, context, root=context)
        return out


def _parse_set_value(raw: str) -> Any:
    """helm --set: integers and booleans are typed, null is nil, everything else is a string."""
    if raw in ("true", "false"):
        return raw == "true"
    if raw == "null":
        return None
    if re.fullmatch(r"-?\d+", raw):
        return int(raw)
    return raw


def _set_path(values: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = values
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    node[keys[-1]] = value


class _Engine:
    def __init__(self):
        self.defines: dict[str, list] = {}

    # parsing: a flat token list into nested nodes
    def parse(self, text: str, name: str) -> list:
        body, _ = self._block(_lex(text, name), 0, name, top=True)
        return body

    def _block(self, tokens, i, name, top=False):
        nodes: list = []
        while i < len(tokens):
            kind, s = tokens[i]
            if kind == "text":
                if s:
                    nodes.append(("text", s))
                i += 1
                continue
            word = s.split(None, 1)[0] if s else ""
            rest = s[len(word):].strip()
            if word in ("end", "else"):
                if top:
                    raise TemplateError(f"{name}: unexpected {{{{ {s} }}}}")
                return nodes, i
            if word == "define":
                define_name = json.loads(rest)
                body, i = self._block(tokens, i + 1, name)
                if tokens[i][1] != "end":
                    raise TemplateError(f"{name}: define {define_name} ends with {tokens[i][1]!r}")
                self.defines[define_name] = body
                i += 1
                continue
            if word == "if":
                branches = []
                cond = _Parser(rest).parse()
                while True:
                    body, i = self._block(tokens, i + 1, name)
                    branches.append((cond, body))
                    closing = tokens[i][1]
                    if closing == "end":
                        break
                    if closing == "else":
                        body, i = self._block(tokens, i + 1, name)
                        if tokens[i][1] != "end":
                            raise TemplateError(f"{name}: else ends with {tokens[i][1]!r}")
                        branches.append((None, body))
                        break
                    if closing.startswith("else if "):
                        cond = _Parser(closing[len("else if "):]).parse()
                        continue
                    raise TemplateError(f"{name}: unsupported {closing!r}")
                nodes.append(("if", branches))
                i += 1
                continue
            if word in ("range", "with", "template", "block", "break", "continue") or ":=" in s or "=" in s.split('"')[0]:
                raise TemplateError(f"{name}: {{{{ {s} }}}} is beyond what helm_render supports")
            nodes.append(("action", _Parser(s).parse()))
            i += 1
        if not top:
            raise TemplateError(f"{name}: missing {{{{ end }}}}")
        return nodes, i

    # execution
    def execute(self, nodes: list, dot: Any, root: Any) -> str:
        out = []
        for node in nodes:
            if node[0] == "text":
                out.append(node[1])
            elif node[0] == "action":
                out.append(_to_str(self._pipeline(node[1], dot, root)))
            elif node[0] == "if":
                for cond, body in node[1]:
                    if cond is None or _truthy(self._pipeline(cond, dot, root)):
                        out.append(self.execute(body, dot, root))
                        break
        return "".join(out)

    def _pipeline(self, node, dot, root):
        value: Any = _NOTHING
        for command in node[1]:
            value = self._command(command, dot, root, value)
        return value

    def _command(self, operands, dot, root, piped):
        head = operands[0]
        if head[0] == "func":
            args = [self._operand(o, dot, root) for o in operands[1:]]
            if piped is not _NOTHING:
                args.append(piped)
            if head[1] == "include":
                if len(args) != 2:
                    raise TemplateError(f"include takes a name and a context, got {args!r}")
                if args[0] not in self.defines:
                    raise TemplateError(f"no template named {args[0]!r}")
                return self.execute(self.defines[args[0]], args[1], root)
            fn = FUNCTIONS.get(head[1])
            if fn is None:
                raise TemplateError(f"function {head[1]!r} is beyond what helm_render supports")
            return fn(*args)
        if len(operands) != 1 or piped is not _NOTHING:
            raise TemplateError(f"{operands!r} is not a function call")
        return self._operand(head, dot, root)

    def _operand(self, op, dot, root):
        kind, v = op
        if kind == "lit":
            return v
        if kind == "paren":
            return self._pipeline(v, dot, root)
        if kind == "field":
            if v == ".":
                return dot
            node = root if v.startswith("$") else dot
            for part in v.lstrip("$").split(".")[1:]:
                node = node.get(part) if isinstance(node, dict) else None
            return node
        raise TemplateError(f"function {v!r} used as a value")


_NOTHING = object()


def load_documents(rendered: Mapping[str, str]) -> list[dict]:
    """Every YAML document of a rendering, empty ones left out."""
    docs = []
    for text in rendered.values():
        docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


def main(argv: Optional[list[str]] = None) -> int:
    """``python tests/py/helm_render.py CHART RELEASE [--namespace NS] [--set k=v ...]``: print the
    rendered objects as ``helm template`` does."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("chart")
    parser.add_argument("release")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    sets = dict(s.split("=", 1) for s in args.set)
    try:
        rendered = Chart(args.chart).render(sets, release=args.release, namespace=args.namespace)
    except TemplateError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for name, text in rendered.items():
        if text.strip():
            print(f"---\n# Source: {name}\n{text.strip()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
