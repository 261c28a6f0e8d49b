"""The bounded YAML loader behind ``zerocve.safe_load.load_yaml`` (see there for the bounds);
apart so that PyYAML is imported by the commands that read YAML, not by every JSON reader."""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.nodes import MappingNode, Node, SequenceNode

from zerocve.safe_load import MAX_DEPTH, MAX_YAML_ALIASES, MAX_YAML_NODES, LoadError


class _BoundedLoader(yaml.SafeLoader):
    """``SafeLoader`` that counts aliases and depth while composing, then refuses a document
    whose alias-expanded size is over ``MAX_YAML_NODES``."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        mark = self.peek_event().start_mark
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise ComposerError(None, None, f"more than {MAX_YAML_ALIASES} aliases", mark)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep", mark)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self) -> Node | None:  # type: ignore[override]
        node: Node | None = super().compose_document()
        if node is not None:
            size, _ = _expanded(node, 1, {})
            if size > MAX_YAML_NODES:
                raise ComposerError(
                    None, None, f"more than {MAX_YAML_NODES} nodes once aliases are expanded",
                    node.start_mark,
                )
        return node


def _expanded(node: Node, depth: int, memo: dict[int, tuple[int, int]]) -> tuple[int, int]:
    """(nodes, height) of ``node`` with every alias copied out: a shared node counts each time
    it is referenced, and an alias nests its target where it stands (``memo`` keeps the walk
    linear in the composed graph). Refuses a depth over ``MAX_DEPTH`` on the way."""
    if depth > MAX_DEPTH:
        raise ComposerError(
            None, None, f"nested more than {MAX_DEPTH} levels deep once aliases are expanded",
            node.start_mark,
        )
    known = memo.get(id(node))
    if known is None:
        if isinstance(node, SequenceNode):
            children = list(node.value)
        elif isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            children = []
        sizes = [_expanded(child, depth + 1, memo) for child in children]
        known = (1 + sum(s for s, _ in sizes), 1 + max((h for _, h in sizes), default=0))
        memo[id(node)] = known
    if depth + known[1] - 1 > MAX_DEPTH:
        raise ComposerError(
            None, None, f"nested more than {MAX_DEPTH} levels deep once aliases are expanded",
            node.start_mark,
        )
    return known


def load(text: str) -> Any:
    """The document in ``text`` as plain Python values; ``LoadError`` when it is malformed or
    over a bound."""
    try:
        return yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise LoadError(f"invalid YAML: {problem}", at) from e
