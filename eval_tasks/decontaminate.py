"""`python -m eval_tasks decontaminate`: find training items that overlap the evaluation benchmarks.

A training item (config `default` of a dataset_builder output: id, image, problem) overlaps a benchmark when
- its image is a near-duplicate of a benchmark image: perceptual hash (pHash, 64-bit DCT) AND difference hash (dHash)
  both within `max_hash_distance` bits (two hashes keep flat or low-detail images from matching by accident;
  near-uniform images carry no evidence and are skipped, counted as such), or
- its question shares at least `min_ngram_overlap` of its word n-grams with the benchmark's questions (questions
  shorter than n words are not text-matched: short generic questions would match everywhere).

It writes OUT/overlaps.json (per benchmark: the training ids and, for each, the benchmark item, the kind of match, the
hash distance and the n-gram overlap) and OUT/overlapping_ids.txt; with --write-clean DIR it writes the dataset again
without the overlapping ids, as a complete dataset (`dataset_builder.filtered`): every config's Parquet shards, the
ShareGPT export, the build report, charts and card regenerated from the rows kept, with a section saying how many
rows each benchmark's image and text tests removed.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from PIL import Image

from dataset_builder.filtered import write_filtered_copy
from eval_tasks.benchmarks import resolve_names
from eval_tasks.tasks import BENCHMARKS, Benchmark

logger = logging.getLogger(__name__)

HASH_SIZE = 8
MIN_PIXEL_STD = 2.0  # grey levels; below this an image is near-uniform and its hash says nothing


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    matrix = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2 / n)
    matrix[0] /= np.sqrt(2)
    return matrix


_DCT32 = _dct_matrix(32)


def _bits_to_int(bits: np.ndarray) -> int:
    return int.from_bytes(np.packbits(bits.astype(np.uint8).ravel()).tobytes(), "big")


def phash(image: Image.Image) -> int:
    """pHash: 2-D DCT of the 32x32 greyscale image, low 8x8 frequencies against their median (as imagehash does)."""
    pixels = np.asarray(image.convert("L").resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float64)
    low = (_DCT32 @ pixels @ _DCT32.T)[:HASH_SIZE, :HASH_SIZE]
    return _bits_to_int(low > np.median(low))


def dhash(image: Image.Image) -> int:
    """dHash: is each pixel brighter than its left neighbour, on a 9x8 greyscale thumbnail."""
    pixels = np.asarray(image.convert("L").resize((HASH_SIZE + 1, HASH_SIZE), Image.Resampling.LANCZOS), dtype=float)
    return _bits_to_int(pixels[:, 1:] > pixels[:, :-1])


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def image_hashes(image: Image.Image) -> tuple[int, int] | None:
    """(pHash, dHash), or None for a near-uniform image."""
    if float(np.asarray(image.convert("L").resize((32, 32)), dtype=float).std()) < MIN_PIXEL_STD:
        return None
    return phash(image), dhash(image)


def words(text: str | None) -> list[str]:
    return re.findall(r"[a-z0-9]+", (text or "").lower().replace("<image>", " "))


def ngrams(text: str | None, n: int) -> set[tuple[str, ...]]:
    tokens = words(text)
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


@dataclass
class DecontaminationConfig:
    dataset: str = field(metadata={"help": "A dataset_builder output folder (reads its `default` config)."})
    benchmarks: str = field(
        default="all", metadata={"help": "'all' (the paper's columns + MME) and/or benchmark names, comma-separated."}
    )
    data_dir: str | None = field(default=None, metadata={"help": "Local benchmark Parquet folders (default: Hub)."})
    output_dir: str = field(default="outputs/decontamination", metadata={"help": "Where the overlap report goes."})
    write_clean: str | None = field(
        default=None, metadata={"help": "Write the dataset without the overlapping ids to this folder."}
    )
    max_hash_distance: int = field(
        default=4, metadata={"help": "Max Hamming distance (bits of 64) for pHash and dHash."}
    )
    ngram: int = field(default=8, metadata={"help": "Word n-gram length for question overlap."})
    min_ngram_overlap: float = field(
        default=0.5, metadata={"help": "Fraction of a training question's n-grams found in a benchmark to flag it."}
    )


@dataclass
class BenchmarkIndex:
    """Hashes and question n-grams of one benchmark's evaluation items."""

    name: str
    item_ids: list[str] = field(default_factory=list)
    hashes: list[tuple[int, int, int]] = field(default_factory=list)  # (item number, pHash, dHash)
    bands: list[dict[int, list[int]]] = field(default_factory=list)  # per band: band value -> positions in `hashes`
    grams: dict[tuple[str, ...], set[int]] = field(default_factory=lambda: defaultdict(set))
    uniform_images: int = 0


def _band_slices(max_distance: int) -> list[tuple[int, int]]:
    """max_distance + 1 disjoint bit ranges of the 64-bit hash: two hashes within max_distance agree on one of them."""
    count = max_distance + 1
    edges = [round(i * 64 / count) for i in range(count + 1)]
    return [(edges[i], edges[i + 1]) for i in range(count)]


def _band(value: int, start: int, stop: int) -> int:
    return (value >> (64 - stop)) & ((1 << (stop - start)) - 1)


def _open_image(value) -> Image.Image | None:
    if value is None:
        return None
    if isinstance(value, Image.Image):
        return value
    data = value.get("bytes") if isinstance(value, dict) else None
    if data:
        return Image.open(io.BytesIO(data))
    path = value.get("path") if isinstance(value, dict) else None
    return Image.open(path) if path else None


def load_benchmark_rows(benchmark: Benchmark, data_dir: str | None):
    """(item id, question, [images]) for every evaluation item, from the Hub or the local Parquet folder."""
    from datasets import load_dataset

    path = str(Path(data_dir) / benchmark.name) if data_dir else benchmark.hub_repo
    if not path:
        raise ValueError(f"{benchmark.name} has no Hub dataset: pass --data-dir DIR with DIR/{benchmark.name}/")
    dataset = load_dataset(path, "default" if data_dir else benchmark.hub_subset)
    for split in benchmark.splits:
        rows = dataset[split]
        if benchmark.hf_filter is not None:
            rows = rows.filter(benchmark.hf_filter)
        columns = [benchmark.question_column, *[c for c in benchmark.image_columns if c in rows.column_names]]
        for index, row in enumerate(rows.select_columns(columns)):
            images = [row[c] for c in benchmark.image_columns if row.get(c) is not None]
            yield f"{split}/{index}", row[benchmark.question_column], images


def build_index(benchmark: Benchmark, config: DecontaminationConfig) -> BenchmarkIndex:
    index = BenchmarkIndex(benchmark.name)
    slices = _band_slices(config.max_hash_distance)
    index.bands = [defaultdict(list) for _ in slices]
    for item_id, question, images in load_benchmark_rows(benchmark, config.data_dir):
        number = len(index.item_ids)
        index.item_ids.append(item_id)
        for gram in ngrams(question, config.ngram):
            index.grams[gram].add(number)
        for image in images:
            hashes = image_hashes(image)
            if hashes is None:
                index.uniform_images += 1
                continue
            position = len(index.hashes)
            index.hashes.append((number, *hashes))
            for band, (start, stop) in zip(index.bands, slices):
                band[_band(hashes[0], start, stop)].append(position)
    return index


def match_image(index: BenchmarkIndex, hashes: tuple[int, int], config: DecontaminationConfig):
    """(benchmark item number, pHash distance) of the closest near-duplicate image, or None."""
    best = None
    candidates = set()
    for band, (start, stop) in zip(index.bands, _band_slices(config.max_hash_distance)):
        candidates.update(band.get(_band(hashes[0], start, stop), ()))
    for position in candidates:
        number, p, d = index.hashes[position]
        distance = hamming(p, hashes[0])
        if distance <= config.max_hash_distance and hamming(d, hashes[1]) <= config.max_hash_distance:
            if best is None or distance < best[1]:
                best = (number, distance)
    return best


def match_text(index: BenchmarkIndex, question: str, config: DecontaminationConfig):
    """(benchmark item number sharing most n-grams, overlap fraction) when the fraction reaches the threshold."""
    grams = ngrams(question, config.ngram)
    if not grams:
        return None
    hits = [index.grams[g] for g in grams if g in index.grams]
    fraction = len(hits) / len(grams)
    if fraction < config.min_ngram_overlap:
        return None
    votes = Counter(number for numbers in hits for number in numbers)
    return votes.most_common(1)[0][0], fraction


def training_items(dataset_dir: Path):
    """(id, problem, image) of every row of the built dataset's `default` config."""
    shards = sorted((dataset_dir / "default").glob("*.parquet"))
    if not shards:
        raise FileNotFoundError(f"{dataset_dir}: no default/*.parquet (expected a dataset_builder output folder)")
    for shard in shards:
        for batch in pq.ParquetFile(shard).iter_batches(batch_size=512, columns=["id", "problem", "image"]):
            for row in batch.to_pylist():
                yield row["id"], row["problem"], row["image"]


@dataclass
class DecontaminationReport:
    overlaps: dict[str, list[dict]]
    checked: int
    unreadable_images: list[str]
    uniform_images: int
    clean_dir: str | None = None
    kept_rows: dict[str, int] = field(default_factory=dict)

    def overlapping_ids(self) -> set[str]:
        return {entry["id"] for entries in self.overlaps.values() for entry in entries}

    def summary(self) -> str:
        lines = [f"checked {self.checked} training items against {len(self.overlaps)} benchmarks"]
        for name, entries in self.overlaps.items():
            kinds = Counter(e["match"] for e in entries)
            lines.append(f"  {name:15s} {len(entries):6d} overlapping ({dict(kinds)})")
        lines.append(f"  total overlapping ids: {len(self.overlapping_ids())}")
        if self.unreadable_images:
            lines.append(f"  unreadable training images (not image-checked): {len(self.unreadable_images)}")
        if self.clean_dir:
            lines.append(f"  clean dataset written to {self.clean_dir}: rows kept {self.kept_rows}")
        return "\n".join(lines)


def decontaminate(config: DecontaminationConfig) -> DecontaminationReport:
    names = resolve_names(config.benchmarks)
    indexes = []
    for name in names:
        indexes.append(build_index(BENCHMARKS[name], config))
        logger.info("%s: %d items indexed", name, len(indexes[-1].item_ids))

    overlaps: dict[str, list[dict]] = {name: [] for name in names}
    unreadable, checked = [], 0
    for item_id, problem, image_value in training_items(Path(config.dataset)):
        checked += 1
        hashes = None
        try:
            image = _open_image(image_value)
            hashes = image_hashes(image) if image is not None else None
        except OSError:
            unreadable.append(item_id)
        for index in indexes:
            image_hit = match_image(index, hashes, config) if hashes else None
            text_hit = match_text(index, problem, config)
            if not image_hit and not text_hit:
                continue
            kind = "image+text" if image_hit and text_hit else "image" if image_hit else "text"
            number = (image_hit or text_hit)[0]
            overlaps[index.name].append(
                {
                    "id": item_id,
                    "benchmark_item": index.item_ids[number],
                    "match": kind,
                    "phash_distance": image_hit[1] if image_hit else None,
                    "ngram_overlap": round(text_hit[1], 3) if text_hit else None,
                }
            )
    report = DecontaminationReport(overlaps, checked, unreadable, sum(i.uniform_images for i in indexes))
    if config.write_clean:
        report.kept_rows = write_clean_dataset(report, config)
        report.clean_dir = config.write_clean
    write_report(report, config)
    return report


def write_report(report: DecontaminationReport, config: DecontaminationConfig) -> None:
    output_dir = Path(config.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    payload = {
        "dataset": config.dataset,
        "settings": {
            "max_hash_distance": config.max_hash_distance,
            "ngram": config.ngram,
            "min_ngram_overlap": config.min_ngram_overlap,
        },
        "checked": report.checked,
        "overlapping_ids_total": len(report.overlapping_ids()),
        "per_benchmark": {name: sorted({e["id"] for e in entries}) for name, entries in report.overlaps.items()},
        "matches": report.overlaps,
        "unreadable_training_images": report.unreadable_images,
        "uniform_benchmark_images_skipped": report.uniform_images,
        "clean_dataset": report.clean_dir,
        "clean_rows_kept": report.kept_rows,
    }
    (output_dir / "overlaps.json").write_text(json.dumps(payload, indent=2) + "\n")
    (output_dir / "overlapping_ids.txt").write_text("".join(f"{i}\n" for i in sorted(report.overlapping_ids())))


def write_clean_dataset(report: DecontaminationReport, config: DecontaminationConfig) -> dict[str, int]:
    """The dataset without the overlapping ids, as a complete dataset (card and build report regenerated from the
    rows kept, plus what each benchmark's tests removed); returns the rows kept per config."""
    removed = {name: dict(Counter(entry["match"] for entry in entries)) for name, entries in report.overlaps.items()}
    note = (
        f"Rows overlapping the evaluation benchmarks, found by `python -m eval_tasks decontaminate`: **image** = the "
        f"row's image is within {config.max_hash_distance} bits of a benchmark image in both pHash and dHash; "
        f"**text** = at least {config.min_ngram_overlap:.0%} of the question's word {config.ngram}-grams occur in the "
        "benchmark's questions; **image+text** = both."
    )
    clean = write_filtered_copy(
        config.dataset, config.write_clean, report.overlapping_ids(), removed=removed, removal_note=note
    )
    return {name: clean.rows_out for name in clean.data_files}
