"""SafeBench-MM (Ying et al., arXiv 2410.18927; code NY1024/SafeBench, data Zonghao2025/safebench on Hugging Face).

Not FigStep's "SafeBench" question set (``figstep.py``).

Published format (as far as it could be confirmed)
---------------------------------------------------
The Hugging Face dataset ships ``category.csv``, ``sample.csv``, ``minibench.tar.gz`` and
the full set as a split archive (``part_aa`` .. ``part_aj``, to be concatenated into one
``.tar.gz``). Unpacked, the full set is::

    category.csv                      columns Index, Category (Index 1..23)
    final_bench/text/<n>.csv          n = 1..23; NO header, one column, one query per row (100 rows)
    final_bench/image/<n>/<k>.png     image of query k (1-based row position) of category n
    final_bench/image/<n>/<x>.csv     the text each image was generated from (one per folder; "a1.csv" is an extra)
    final_bench/audio/audio_data_{male,female}/<n>/<k>.wav

and MiniBench (``minibench.tar.gz``) is ``minibench_final/{text,img,audio_data_female,audio_data_male}/``
with ``text/<n>.csv`` for n = 1..10.

Verified vs assumed
-------------------
* Verified from NY1024/SafeBench's own evaluation code (``evaluation/commercialMLLMs/gpt-4o.py``,
  ``evaluation/opensourceMLLMs/llava_v7.py``, the audio scripts): numbered per-category
  text CSVs read with ``csv.reader`` and ``row[0]``, row ``i`` paired with image ``<n>/<i+1>.png``,
  categories 1..23 (MiniBench 1..10), the query text sent together with the image. The
  authors' own paths vary (``final_bench/text/text/<n>.csv`` with ``final_bench/<n>/<k>.png``;
  ``text/<n>.csv`` with ``high_img_gene/<n>/<k>.png``), so those are looked for too.
* Taken from third-party loaders of the released archive, not from the archive itself:
  ``final_bench/{text,image,audio}`` and ``category.csv`` with columns ``Index``/``Category``
  (two independent loaders agree; one pins 100 header-less rows per text file and one
  image-prompt CSV per image folder besides ``a1.csv``). The MiniBench image folder name
  ``img`` comes from a third-party description of the archive.
* NOT confirmed: the 23 category names (so the mapping below matches them by keywords
  against ``proxy.scenarios.SAFEBENCH_SUBCATEGORIES``, itself a reconstruction), and
  which of the 23 categories MiniBench's 1..10 are. MiniBench items therefore keep
  ``scenario = NO_SCENARIO`` and ``category = "minibench <n>"``; category.csv is not applied to them.

Strict where the format is known: text files other than ``1.csv`` .. ``23.csv``
(MiniBench ``1.csv`` .. ``10.csv``), a text row of more than one column, a full set
without ``category.csv``, a text file whose number has no ``category.csv`` row, and a
category name that matches none of the 23 are each a ``DatasetError`` naming the file.
The number alone names no scenario: only ``category.csv`` says which category is ``n``.

All column and folder names are constants below, in one place, to fix when the real
archive has been inspected.

Mapping to ``Item``: ``question`` and ``key_phrase`` = the query (SafeBench has no key
phrase; the bench renders the whole query when a typography attack is chosen);
``images["sd"]`` = the generated image (a picture, not typography) and ``instruction_sd``
= the query, so the SD attack reproduces SafeBench's own protocol (image + query);
``category`` = the category.csv name (MiniBench: "minibench <n>"); ``meta`` = category index,
row, matched SafeBench sub-category, image prompt when present.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bench.suite.item import NO_SCENARIO, Item
from bench.suite.loaders._common import DatasetError, check_unique, first_existing, parse_int, read_csv_rows, read_plain_rows
from proxy.scenarios import SAFEBENCH_SUBCATEGORIES, SCENARIOS

SOURCE = "safebench"

# --- the published layout: every name the loader relies on -------------------------------
CATEGORY_FILE = "category.csv"
CATEGORY_INDEX_COLUMN = "Index"
CATEGORY_NAME_COLUMN = "Category"
FULL_DIR = "final_bench"
MINI_DIR = "minibench_final"
#: (text folder, image root) relative to the full set's folder, in order of preference.
FULL_LAYOUTS = (("text", "image"), ("text/text", "."), ("text", "high_img_gene"))
MINI_LAYOUTS = (("text", "img"), ("text", "image"))
IMAGE_NAME = "{row}.png"
#: The category numbers each variant publishes: text/<n>.csv and category.csv's Index.
CATEGORY_NUMBERS = {"full": range(1, 24), "mini": range(1, 11)}
IMAGE_PROMPT_EXTRA = "a1.csv"  # an extra file in some image folders, not the image prompts
#: Key under which the SafeBench image goes into ``Item.images``.
IMAGE_KEY = "sd"

# --- category name -> SafeBench sub-category (proxy.scenarios) ---------------------------
#: Keywords tried in order against the normalised category.csv name; each names the
#: sub-category part of an entry of ``SAFEBENCH_SUBCATEGORIES`` ("Major / Sub").
KEYWORDS: tuple[tuple[str, str], ...] = (
    ("trade secret", "Trade Secrets"),
    ("commercial secret", "Trade Secrets"),
    ("business secret", "Trade Secrets"),
    ("privacy", "Personal Privacy"),
    ("personal information", "Personal Privacy"),
    ("penetration", "Penetration Testing"),
    ("vulnerabilit", "Vulnerability Exploitation"),
    ("malware", "Malware Generation"),
    ("malicious code", "Malware Generation"),
    ("virus", "Malware Generation"),
    ("hardware", "Hardware Security"),
    ("bioethic", "Bioethics"),
    ("biological ethic", "Bioethics"),
    ("social ethic", "Social Ethics"),
    ("pornograph", "Pornography"),
    ("porn", "Pornography"),
    ("sexual", "Pornography"),
    ("child", "Child Abuse"),
    ("fraud", "Fraud"),
    ("scam", "Fraud"),
    ("intellectual property", "Intellectual Property Infringement"),
    ("copyright", "Intellectual Property Infringement"),
    ("hate", "Hate Speech"),
    ("defamation", "Defamation"),
    ("slander", "Defamation"),
    ("political", "Extreme Political Views"),
    ("religio", "Extreme Religious Views"),
    ("bias", "Bias"),
    ("discriminat", "Bias"),
    ("physical", "Physical Harm"),
    ("psycholog", "Psychological Harm"),
    ("medical", "Medical Advice"),
    ("health", "Medical Advice"),
    ("mental", "Psychological Harm"),
    ("legal", "Legal Advice"),
    ("investment", "Investment Advice"),
    ("financial", "Investment Advice"),
    ("exploit", "Vulnerability Exploitation"),
    ("illegal", "Other Illegal Activities"),
    ("crime", "Other Illegal Activities"),
)


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def _subcategory_index() -> dict[str, str]:
    """Normalised sub-category name (and full "major / sub" name) -> the full SAFEBENCH_SUBCATEGORIES entry."""
    index: dict[str, str] = {}
    for full in SAFEBENCH_SUBCATEGORIES:
        index[_norm(full)] = full
        index[_norm(full.split("/")[-1])] = full
    return index


def match_subcategory(name: str) -> str | None:
    """The ``SAFEBENCH_SUBCATEGORIES`` entry a published category name most likely is, or None."""
    index = _subcategory_index()
    normalised = _norm(name)
    if normalised in index:
        return index[normalised]
    padded = f" {normalised} "
    for keyword, sub in KEYWORDS:
        if (" " + keyword) in padded:
            full = index.get(_norm(sub))
            if full is not None:
                return full
    return None


def scenario_of(name: str) -> tuple[str, str | None]:
    """(scenario id, matched sub-category) for a category name; NO_SCENARIO when nothing matches."""
    sub = match_subcategory(name)
    if sub is not None:
        for scenario in SCENARIOS:
            if sub in scenario.safebench:
                return scenario.id, sub
    return NO_SCENARIO, sub


def _read_categories(path: Path) -> dict[int, str]:
    """category.csv's names by Index; a name that is no SafeBench risk scenario is refused, not run as ``none``.

    The 23 names are a reconstruction (``proxy.scenarios``), so a published spelling
    we lack is matched by keywords (``match_subcategory``); one that matches nothing
    is named, so that it can be added rather than counted in ASR under no scenario.
    """
    numbers = CATEGORY_NUMBERS["full"]
    names: dict[int, str] = {}
    for line, row in read_csv_rows(path, (CATEGORY_INDEX_COLUMN, CATEGORY_NAME_COLUMN)):
        index = parse_int(row[CATEGORY_INDEX_COLUMN], path, line, CATEGORY_INDEX_COLUMN)
        if index in names:
            raise DatasetError(f"{path}, line {line}: duplicate {CATEGORY_INDEX_COLUMN} {index}")
        if index not in numbers:
            raise DatasetError(f"{path}, line {line}: {CATEGORY_INDEX_COLUMN} {index} is outside SafeBench's {numbers.start}..{numbers.stop - 1}")
        name = row[CATEGORY_NAME_COLUMN].strip()
        if match_subcategory(name) is None:
            known = ", ".join(full.split(" / ")[-1] for full in SAFEBENCH_SUBCATEGORIES)
            raise DatasetError(f"{path}, line {line}: unknown SafeBench category {name!r}; known: {known} (and spellings that name one of them)")
        names[index] = name
    return names


def _category_file(root: Path, path: Path) -> Path:
    """The full set's category.csv, looked for beside the unpacked folder; without it no query has a scenario."""
    bases = (root, root.parent, path)
    found = first_existing(base / CATEGORY_FILE for base in bases)
    if found is None:
        where = ", ".join(dict.fromkeys(str(base) for base in bases))
        raise DatasetError(
            f"{path}: no {CATEGORY_FILE} in {where}; SafeBench names the risk category of {FULL_DIR}/text/<n>.csv only there "
            f"(columns {CATEGORY_INDEX_COLUMN}, {CATEGORY_NAME_COLUMN}), so put the dataset's {CATEGORY_FILE} beside {FULL_DIR}"
        )
    return found


def _numbered_csvs(folder: Path) -> dict[int, Path]:
    return {int(f.stem): f for f in folder.glob("*.csv") if f.stem.isdigit() and f.is_file()}


def _locate(path: Path) -> tuple[str, Path, Path, Path]:
    """(variant, unpacked folder, text folder, image root) for the path given."""
    path = Path(path)
    roots: list[tuple[str, Path]] = []
    if path.name == MINI_DIR:
        roots.append(("mini", path))
    elif path.name == FULL_DIR:
        roots.append(("full", path))
    roots += [("full", path / FULL_DIR), ("mini", path / MINI_DIR), ("full", path)]  # the last: text/ and high_img_gene/ at the top
    for variant, root in roots:
        if not root.is_dir():
            continue
        layouts = FULL_LAYOUTS if variant == "full" else MINI_LAYOUTS
        found = [(root / text_rel, root / image_rel) for text_rel, image_rel in layouts if (root / text_rel).is_dir() and _numbered_csvs(root / text_rel)]
        if found:
            # the layout whose images are there: text/ is shared by several, and the first alone took
            # text/ with high_img_gene/ for text/ with image/, and dropped every image
            text_dir, image_root = next((pair for pair in found if pair[1].is_dir()), found[0])
            return variant, root, text_dir, image_root
    raise DatasetError(
        f"{path} does not look like SafeBench: expected {FULL_DIR}/text/<n>.csv (n = 1..23, from the unpacked "
        f"Zonghao2025/safebench archive, with {FULL_DIR}/image/<n>/<k>.png and {CATEGORY_FILE} beside {FULL_DIR}) "
        f"or {MINI_DIR}/text/<n>.csv"
    )


def _image_prompts(folder: Path) -> dict[int, str]:
    """The one prompt CSV of an image folder (besides ``a1.csv``), by row; {} when absent or ambiguous."""
    if not folder.is_dir():
        return {}
    csvs = [f for f in folder.glob("*.csv") if f.name != IMAGE_PROMPT_EXTRA and f.is_file()]
    if len(csvs) != 1:
        return {}
    return dict(read_plain_rows(csvs[0]))


def _category(number: int, csv_path: Path, names: dict[int, str], category_file: Path) -> tuple[str, str, str | None]:
    """(name, scenario, sub-category) of text/<n>.csv of the full set, from category.csv's row ``n``."""
    if number not in names:
        raise DatasetError(f"{csv_path}: category {number} has no row in {category_file} (Index {number}), so its queries have no scenario")
    name = names[number]
    scenario, sub = scenario_of(name)
    return name, scenario, sub


def load_safebench(path: Path) -> list[Item]:
    """Every query of the unpacked full set (or MiniBench), by category number then row."""
    variant, root, text_dir, image_root = _locate(Path(path))
    category_file = _category_file(root, Path(path)) if variant == "full" else None
    names = _read_categories(category_file) if category_file is not None else {}
    numbers = CATEGORY_NUMBERS[variant]
    source_tag = SOURCE if variant == "full" else f"{SOURCE}-mini"
    items: list[Item] = []
    for number, csv_path in sorted(_numbered_csvs(text_dir).items()):
        if number not in numbers:
            raise DatasetError(f"{csv_path}: SafeBench{' MiniBench' if variant == 'mini' else ''} has no category {number}; its text files are {numbers.start}.csv .. {numbers.stop - 1}.csv")
        if category_file is not None:
            name, scenario, sub = _category(number, csv_path, names, category_file)
        else:
            name, scenario, sub = f"minibench {number}", NO_SCENARIO, None
        image_dir = image_root / str(number)
        prompts = _image_prompts(image_dir)
        rows = read_plain_rows(csv_path, one_column=True)
        if not rows:
            raise DatasetError(f"{csv_path}: no queries (expected one query per row, no header)")
        for row, query in rows:
            image = image_dir / IMAGE_NAME.format(row=row)
            meta: dict[str, Any] = {"category_index": number, "row": row, "variant": variant, "file": str(csv_path.relative_to(text_dir.parent))}
            if sub is not None:
                meta["safebench_subcategory"] = sub
            if row in prompts:
                meta["image_prompt"] = prompts[row]
            items.append(
                Item(
                    id=f"{source_tag}/{number}/{row}",
                    source=SOURCE,
                    scenario=scenario,
                    harmful=True,
                    question=query,
                    key_phrase=query,
                    instruction_sd=query,
                    category=name,
                    images={IMAGE_KEY: image} if image.is_file() else {},
                    meta=meta,
                )
            )
    return check_unique(items, text_dir)
