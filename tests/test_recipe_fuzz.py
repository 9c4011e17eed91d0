"""Issue 28: mutated built-in recipes through `layerlab recipe check` exit 0 or 2 with a bounded message,
never a traceback (a fixed seed, a few hundred cases, well under a minute)."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerlab.cli import main
from layerlab.recipes import builtin_names, builtin_path

RECIPES = {name: yaml.safe_load(builtin_path(name).read_text()) for name in builtin_names()}

garbage = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70), st.floats(allow_nan=True),
              st.text(max_size=20), st.just("a\x00b"), st.just("x" * 5000), st.just(10**30), st.just(-1)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _paths(node, prefix=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))


@st.composite
def mutated(draw):
    name = draw(st.sampled_from(sorted(RECIPES)))
    recipe = yaml.safe_load(yaml.safe_dump(RECIPES[name]))
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(recipe))
        path = draw(st.sampled_from(paths))
        node = recipe
        for key in path[:-1]:
            node = node[key]
        if draw(st.booleans()):
            node[path[-1]] = draw(garbage)
        else:
            node[draw(st.sampled_from([path[-1].upper(), path[-1] + "x", "unknown", ""]))] = draw(garbage)
    return recipe


@settings(max_examples=300, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])
@given(recipe=mutated())
def test_mutated_recipes_refused_cleanly(tmp_path, capsys, recipe):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe, allow_unicode=False), encoding="utf-8")
    code = main(["recipe", "check", str(path)])
    err = capsys.readouterr().err
    assert code in (0, 2), err
    assert "Traceback" not in err
    assert len(err) < 25_000 and len(err.splitlines()) <= 23
