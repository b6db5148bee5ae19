"""Choosing what runs: which datasets, which scenarios, how many items, which attacks. Pure functions.

``--suite`` names where the attack items come from: ``builtin`` (the
project's own set, harmful and benign) or ``<loader>:<path>`` for a public
dataset the user downloaded (``mm-safetybench:~/data/MM-SafetyBench``).
``--controls`` names the benign control set that measures over-refusal;
``builtin`` by default, so a public attack set that has no benign half still
gets one in the same formats.
"""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

from bench.suite.attacks import Case
from bench.suite.item import Item


def load_items(spec: str) -> list[Item]:
    if spec == "builtin":
        from bench.suite.builtin import load_builtin

        return load_builtin()
    name, sep, path = spec.partition(":")
    if not sep or not path:
        raise ValueError(f"suite {spec!r}: use builtin or <dataset>:<path>, e.g. mm-safetybench:./MM-SafetyBench")
    from bench.suite.loaders import load

    return load(name, Path(path).expanduser())


def assemble(suite: str, controls: str | None) -> list[Item]:
    """The suite's items plus, unless it brings its own benign items, the control set's benign ones.

    A control set is checked even when the suite does not need it, and one
    that adds no benign item is refused: over-refusal would read ``n/a``. A
    control set other than the default, given for a suite that brings its own
    benign items, is refused too: it would change nothing (``--controls none``
    on the built-in suite still ran its 260 benign items).
    """
    if controls and controls not in ("none", "builtin") and not all(controls.partition(":")[::2]):
        raise ValueError(f"--controls {controls!r}: use builtin, none or <dataset>:<path>, e.g. xstest:./xstest_prompts.csv")
    items = load_items(suite)
    own_benign = any(not i.harmful for i in items)
    if controls not in (None, "builtin") and own_benign:
        raise ValueError(f"--controls {controls}: the suite {suite} brings its own benign items, which measure over-refusal; --controls applies only to a suite without any, so drop it")
    if controls and controls != "none" and not own_benign:
        try:
            benign = [i for i in load_items(controls) if not i.harmful]
        except ValueError as err:
            raise ValueError(f"--controls: {err}") from None
        if not benign:
            raise ValueError(f"--controls {controls}: it has no benign items to measure over-refusal with; use builtin, a set with benign items, or none")
        items += benign
    return items


def sample(items: list[Item], limit: int | None, scenarios: list[str] | None, seed: int) -> list[Item]:
    """Up to ``limit`` harmful and ``limit`` benign items, spread evenly over scenarios, drawn with ``seed``.

    Harmful and benign are limited separately so the control set keeps pace
    with the attacks; scenarios are interleaved so a small limit still covers
    them all, and taken in a seeded order, so a limit below their number draws
    a different handful per seed instead of always the first alphabetically.
    """
    if scenarios:
        wanted = set(scenarios)
        items = [i for i in items if i.scenario in wanted]
    if limit is None:
        return items
    rng = random.Random(seed)
    order = scenario_order({i.scenario for i in items}, seed)  # one order for both halves: controls follow the attacks
    chosen: list[Item] = []
    for harmful in (True, False):
        groups: dict[str, list[Item]] = defaultdict(list)
        for item in items:
            if item.harmful == harmful:
                groups[item.scenario].append(item)
        for group in groups.values():
            rng.shuffle(group)
        queues = [groups[s] for s in order if s in groups]
        picked: list[Item] = []
        while len(picked) < limit and any(queues):
            for queue in queues:
                if queue and len(picked) < limit:
                    picked.append(queue.pop())
        chosen += picked
    return chosen


def scenario_order(scenarios: set[str], seed: int) -> list[str]:
    """The scenarios in an order that ``seed`` decides. Its own generator, not the one that shuffles each
    scenario's items: each scenario still gives the items it gave before, and only which scenarios get the
    last, partial round depends on the order."""
    order = sorted(scenarios)
    random.Random(f"scenario-order:{seed}").shuffle(order)
    return order


def cases(items: list[Item], attacks: tuple[str, ...]) -> list[Case]:
    return [Case(item, attack) for item in items for attack in attacks]
