"""Reading a recipe's YAML safely: bounded in size, depth and alias expansion, duplicate keys refused.

A recipe is small; a file that is not (a 'billion laughs' of nested aliases, 100k keys, a 1,000-deep
nesting) is refused with one line before anything expands it, so neither memory nor the error
message can grow with it.

    raw = parse_yaml(text)          # a dict, list or scalar; raises RecipeYAMLError with line and column
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_BYTES = 1_000_000  # a recipe is a few kilobytes; a megabyte is far beyond any real one
MAX_DEPTH = 64  # nesting of mappings and sequences (a recipe nests about 4 deep)
MAX_NODES = 20_000  # keys, values and items, counted with every alias expanded

# YAML 1.1 (PyYAML) reads 1e9 as a string: only 1.0e+9 is a float. A recipe means the number.
_EXPONENT = re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")
_MERGE = "tag:yaml.org,2002:merge"


class RecipeYAMLError(yaml.MarkedYAMLError):
    """The text is YAML, but not one a recipe can be (too deep, too large, a duplicate key)."""


class RecipeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with the bounds above checked while the document is composed."""

    def __init__(self, stream: Any):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise RecipeYAMLError(None, None, f"nested more than {MAX_DEPTH} levels deep", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_mapping_node(self, anchor: Any) -> MappingNode:
        node = super().compose_mapping_node(anchor)
        seen: dict[Any, int] = {}
        for key, _ in node.value:
            if not isinstance(key, ScalarNode) or key.tag == _MERGE:
                continue
            if key.value in seen:
                raise RecipeYAMLError(None, None, f"duplicate key '{key.value[:80]}' (first on line {seen[key.value]})",
                                      key.start_mark)
            seen[key.value] = key.start_mark.line + 1
        return node

    def compose_document(self) -> Node | None:
        node = super().compose_document()
        if node is not None and expanded_size(node, {}) > MAX_NODES:
            raise RecipeYAMLError(None, None, f"more than {MAX_NODES:,} keys and values once its aliases are expanded "
                                "(a recipe has a few hundred)", node.start_mark)
        return node


RecipeLoader.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT, list("-+0123456789"))


def expanded_size(node: Node, memo: dict[int, int]) -> int:
    """Nodes under ``node`` with every alias expanded, counted once per distinct node (so a bomb of
    nested aliases is counted in time linear in the file, not in its expansion)."""
    if id(node) in memo:
        return memo[id(node)]
    memo[id(node)] = MAX_NODES + 1  # a recursive alias (&a [*a]) expands without end
    if isinstance(node, SequenceNode):
        size = 1 + sum(expanded_size(item, memo) for item in node.value)
    elif isinstance(node, MappingNode):
        size = 1 + sum(expanded_size(k, memo) + expanded_size(v, memo) for k, v in node.value)
    else:
        size = 1
    memo[id(node)] = min(size, MAX_NODES + 1)
    return memo[id(node)]


def parse_yaml(text: str) -> Any:
    """``text`` as Python values (the safe subset of YAML). Raises ``yaml.YAMLError`` (a
    ``MarkedYAMLError`` with ``problem_mark`` where the position is known) for text that is not
    YAML or is over the bounds above."""
    if len(text) > MAX_BYTES:
        raise RecipeYAMLError(None, None, f"the file has {len(text):,} characters; a recipe has at most {MAX_BYTES:,}")
    return yaml.load(text, Loader=RecipeLoader)  # noqa: S506 -- RecipeLoader is a SafeLoader
