"""``routing_train``: seconds to train the routing model on 5,000 examples ÷ a
minute (the goal: under a minute on 2 cores; ratio ≤ 1).

The examples are what a district's settled flags would give: long 问政-style
messages (each two hand-written messages of one department from
``tests/data/routing-messages.csv``, their sentences shuffled, about 250
characters) and residents' comments of the simulated example district with
their true units (streets and communities among them: some 150 units in all).
Training is what ``huisheng routing train`` does: features, three
cross-validation folds for the confidence, the final model.
"""

from __future__ import annotations

import csv
import random
import re
import time
from datetime import datetime, timezone
from pathlib import Path

from bench._common import emit, note
from huisheng.flags.learn import Example, train
from huisheng.flags.relearn import router_text, routing_levels
from huisheng.flags.route import build_directory
from huisheng.flags.rules import load_rules
from huisheng.config.matrix import load_matrix
from huisheng.simulator import World, WorldConfig

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)
EXAMPLES = 5000
GOAL_SECONDS = 60.0


def examples(n: int = EXAMPLES) -> list[Example]:
    rng = random.Random(12)
    matrix = load_matrix(ROOT / "config" / "example-district")
    rules, directory = load_rules(), build_directory(matrix)
    by_unit: dict[str, list[str]] = {}
    with open(ROOT / "tests" / "data" / "routing-messages.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            by_unit.setdefault(row["unit"], []).append(row["text"])
    comments = []
    seed = 20
    while len(comments) < n * 2 // 5:
        world = World(matrix, seed=seed, start=START, config=WorldConfig(history_days=14))
        comments += [(c["text"], c["labels"]["target_unit"]) for c in world.truth(START)["comments"]
                     if c["labels"].get("role") == "resident" and c["labels"].get("needs_reply")
                     and c["labels"].get("target_unit")
                     and directory.level(directory.account_units.get(("weibo", str(c["account_uid"])))) in routing_levels(rules)]
        seed += 1
    out = [Example(router_text(t, rules, directory, "weibo"), u) for t, u in comments[:n * 2 // 5]]
    units = sorted(by_unit)
    while len(out) < n:
        unit = rng.choice(units)
        sentences = [s for text in rng.sample(by_unit[unit], 2) for s in re.split(r"(?<=[。？！])", text) if s]
        rng.shuffle(sentences)
        out.append(Example(router_text("".join(sentences), rules, directory, "weibo"), unit))
    return out


def main() -> None:
    data = examples()
    started, cpu = time.perf_counter(), time.process_time()
    model = train(data, now=START)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    chars = sum(len(e.text) for e in data) / len(data)
    # on a machine shared with other work the wall-clock time says more about the others
    note(f"routing_train: {len(data)} examples ({chars:.0f} characters on average), {len(model.units)} units, "
         f"vocabulary {len(model.vocabulary)}, cross-validated accuracy {model.meta['cv_accuracy']}; "
         f"{cpu:.1f} s of CPU time in {seconds:.1f} s")
    emit("routing_train", round(seconds, 2), "s", GOAL_SECONDS)


if __name__ == "__main__":
    main()
