"""Write the model card's generated tables from the data and the results, so they cannot drift.

``python -m training.card`` rewrites, in ``models/MODEL_CARD.md``, the text between the markers
``<!-- card:NAME -->`` and ``<!-- /card:NAME -->`` for each NAME below, from
``training/results/loso.json`` (the leave-one-source-out run), ``training/results/final.json``
(the shipped model) and the sources themselves. ``--check`` fails if the card is stale.

* ``data``: every training source with its hands, letters, people, depth and licence;
* ``loso``: per-source held-out accuracy, worst first, with the summary figures;
* ``letters``: per letter, the mean over the sources holding it and the worst sources.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from .data import ROOT, Source, all_training_sources, load_many
from .loso import BROAD_SOURCE_LETTERS

CARD = ROOT / "models" / "MODEL_CARD.md"
RESULTS = ROOT / "training" / "results"


def data_table(sources: list[Source]) -> str:
    rows = [
        "| source | hands | letters | people | depth | licence | from |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in sources:
        people = s.people.split(" (")[0]
        rows.append(
            f"| `{s.name}` | {len(s):,} | {len(s.letters)} | {people} | "
            f"{'3-D' if s.has_z else '2-D'} | {s.licence.split(' (')[0]} | {s.origin} |"
        )
    total = sum(len(s) for s in sources)
    rows.append(f"| **{len(sources)} sources** | **{total:,}** | | | | | |")
    return "\n".join(rows)


def loso_table(loso: dict[str, Any]) -> str:
    s = loso["summary"]
    rows = [
        "| held-out source | hands | letters | accuracy | z dropped | photo read as square |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in sorted(loso["sources"].items(), key=lambda kv: kv[1]["accuracy"]):
        flat = f"{r['flat']:.1%}" if "flat" in r else "(2-D)"
        square = f"{r['square']:.1%}" if "square" in r else ""
        rows.append(
            f"| `{name}` | {r['n']:,} | {r['letters']} | **{r['accuracy']:.1%}** | {flat} "
            f"| {square} |"
        )
    broad_name, broad_min = s["broad_min"]
    lines = [
        "\n".join(rows),
        "",
        f"- **{s['sources']} sources: mean {s['mean']:.1%}, median {s['median']:.1%}**; worst "
        "five: " + ", ".join(f"`{n}` {a:.1%}" for n, a in s["worst_five"].items()) + ".",
        f"- {s['broad_sources']} sources holding ≥ {BROAD_SOURCE_LETTERS} letters: mean "
        f"{s['broad_mean']:.1%}, lowest `{broad_name}` {broad_min:.1%}; below 85 %: "
        + (", ".join(f"`{n}`" for n in s["broad_below_85"]) or "none")
        + ".",
    ]
    if s.get("flat_mean") is not None:
        lines.append(f"- 3-D sources with z dropped (as 2-D clients send): {s['flat_mean']:.1%}.")
    if s.get("aspect_ignored"):
        a = s["aspect_ignored"]
        lines.append(
            f"- The {a['sources']} photo sources of 4:3 or 16:9: {a['mean']:.1%} with their "
            f"aspect, {a['mean_read_as_square']:.1%} read as square (a client sending none)."
        )
    lines.append(
        f"- Command: `{loso['command']}` ({loso['folds']}, seeds {loso['seeds']}, "
        f"{loso['minutes']} min on this machine)."
    )
    return "\n".join(lines)


def letter_table(loso: dict[str, Any]) -> str:
    rows = [
        "| letter | sources | mean | sources below 80 % | worst |",
        "|---|---|---|---|---|",
    ]
    for letter, e in loso["per_letter"].items():
        worst = ", ".join(f"`{n}` {a:.0%}" for n, a in e["worst"].items())
        rows.append(f"| {letter} | {e['sources']} | {e['mean']:.1%} | {e['below_80']} | {worst} |")
    return "\n".join(rows)


def sections() -> dict[str, str]:
    loso = json.loads((RESULTS / "loso.json").read_text())
    sources = load_many(list(all_training_sources()))
    return {
        "data": data_table(sources),
        "loso": loso_table(loso),
        "letters": letter_table(loso),
    }


def render(text: str, generated: dict[str, str]) -> str:
    for name, body in generated.items():
        pattern = re.compile(rf"(<!-- card:{name} -->\n).*?(\n<!-- /card:{name} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"{CARD}: no <!-- card:{name} --> … <!-- /card:{name} --> markers")
        text = pattern.sub(lambda m, body=body: m.group(1) + body + m.group(2), text)
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the card is stale")
    args = parser.parse_args(argv)
    before = CARD.read_text()
    after = render(before, sections())
    if args.check:
        if after != before:
            sys.exit(f"{CARD} is stale: run python -m training.card")
        return
    CARD.write_text(after)
    print(f"wrote {CARD}")


if __name__ == "__main__":
    main()
