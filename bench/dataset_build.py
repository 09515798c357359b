"""Benchmark: build N synthetic release records with the streaming builder vs the naive path, peak RSS and records/s;
then `check` over 120K records and the image index of a zip with 1.4M entries (the LLaVA-CoT bundle's size).

    .venv/bin/python bench/dataset_build.py            # N = 10K (512x512 images, 262K px) and 120K (256x256)
    .venv/bin/python bench/dataset_build.py --quick    # N = 1K and 4K, for a smoke run
    .venv/bin/python bench/dataset_build.py --only-index-and-check   # just the check and zip index rows

Check and index: a zip of 1.4M small stored entries named like the bundle's (`coco/train2017/000000000123.jpg`), and
a 120K-record JSONL whose records point into it (synthetic records with their reasoning padded to ~1.2 KB, about a
real record's size). `check` reads and normalizes every record and looks every image up (no decoding). The index is
built in one process, which then forks 4 workers (as the build does) that each read 5K random entries; each reports
its peak RSS (pages it touched, most of them shared with the parent) and its private memory (what it alone holds).
`zipfile.ZipFile` opening the same zip is the before figure (one ZipInfo object per entry, per worker).

Images are synthetic shapes (JPEG for photo sources, PNG for charts/diagrams), so they compress far better than real
photos (~5 KB instead of ~50-100 KB at 512x512). At 120K they are 256x256 (65K px) because generating 120K
512x512 images takes ~40 min on the shared 2-core machine; `--large-image-size 512 512` measures that instead.

Each path runs in its own subprocess, which reports its own peak RSS (getrusage ru_maxrss), so the peaks are
independent; the builder's forked image workers are reported apart (their pages are mostly shared with the parent). All paths read the same records and the same unpacked image folder. Rows of the table:

- build: the whole default CLI build (default + rl + sft configs, ShareGPT export, report, charts, card);
- build:default: the `default` config stage of that same run (its own timer; the RSS is the whole run's);
- naive: `json.load` -> `Dataset.from_list` -> `cast_column("image", Image())` -> `to_parquet`, validating nothing;
  its Parquet holds image PATHS, not bytes, so it is not a shippable dataset;
- naive-embed: the same path with the image bytes read into the rows: the same content as `default`.

Target: builder peak RSS < 2 GB at the largest N while the naive path grows with N, and records/s at least the naive
path's. The builder checks every image (JPEGs are decoded at 1/8 scale, so that a cut-short file is caught
and bytes after the end marker are not mistaken for damage): ~90 us of worker CPU per 256x256 synthetic JPEG, which
on 2 cores is most of the gap to naive-embed (which checks nothing); checking only the headers gave ~25K rec/s on
30K records here. The RESULT line compares build:default with naive-embed, because they write the same table (the `default`
rows with image bytes embedded); the full build also writes the rl and sft configs (two more copies of every image)
and the exports, so its ratio to naive-embed is printed above RESULT but is not the like-for-like figure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RSS_TARGET_MB = 2048
INDEX_ENTRIES = 1_400_000
CHECK_RECORDS = 120_000
INDEX_WORKER_RSS_TARGET_MB = 500
CHECK_TARGET_RECORDS_PER_S = 25_000  # "a few seconds per 100K records": 4 s
BUNDLE_FOLDERS = (
    "coco/train2017",
    "sam/images",
    "llava/llava_pretrain/images",
    "gqa/images",
    "ocr_vqa/images",
    "chartqa/train/png",
    "textvqa/train_images",
    "vg/VG_100K",
    "ai2d/images",
    "share_textvqa/images",
)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def worker_build(records: Path, images: Path, output_dir: Path) -> dict:
    from dataset_builder.build import build_dataset

    started = time.perf_counter()
    report = build_dataset(records, images, output_dir, on_error="raise")
    seconds = time.perf_counter() - started
    # The builder's image workers are forked processes (mostly pages shared with this one); report the largest too.
    worker_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "rows": report.rows_out,
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
        "worker_peak_rss_mb": worker_rss_mb,
        "stages": report.stage_seconds,
    }


def worker_naive(records: Path, images: Path, output_dir: Path, embed: bool = False) -> dict:
    from datasets import Dataset, Image

    started = time.perf_counter()
    with open(records) as handle:
        rows = [json.loads(line) for line in handle] if records.suffix == ".jsonl" else json.load(handle)
    for row in rows:
        path = images / row["image_path"]
        # to_parquet stores an Image() column of paths as paths; to ship the bytes they must be in the rows.
        row["image"] = {"bytes": path.read_bytes(), "path": None} if embed else str(path)
        if isinstance(row["abilities"], str):  # the least the naive path needs: Arrow cannot mix str and list
            row["abilities"] = row["abilities"].split(", ")
    dataset = Dataset.from_list(rows).cast_column("image", Image())
    output_dir.mkdir(parents=True, exist_ok=True)
    dataset.to_parquet(str(output_dir / "train.parquet"))
    seconds = time.perf_counter() - started
    return {"rows": len(dataset), "seconds": seconds, "peak_rss_mb": peak_rss_mb(), "stages": {}}


def bundle_name(index: int) -> str:
    return f"{BUNDLE_FOLDERS[index % len(BUNDLE_FOLDERS)]}/{index:012d}.jpg"


def write_bundle_zip(path: Path, entries: int) -> None:
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for index in range(entries):
            archive.writestr(bundle_name(index), index.to_bytes(8, "little"))


def write_index_and_check_inputs(zip_path: Path, records: Path) -> dict:
    if not zip_path.exists():
        write_bundle_zip(zip_path, INDEX_ENTRIES)
    if not records.exists():
        write_check_records(records, CHECK_RECORDS, INDEX_ENTRIES)
    return {}


def write_check_records(path: Path, count: int, entries: int) -> None:
    from dataset_builder.synthetic import iter_synthetic_records

    templates = [record for record, _, _ in iter_synthetic_records(200, seed=0)]
    padding = " Each step is checked against the image before the next one is taken." * 17
    with open(path, "w", encoding="utf-8") as handle:
        for index in range(count):
            record = dict(templates[index % len(templates)])
            record["problem"] = f"{record['problem']} (#{index})"
            record["refined_cot"] = record["refined_cot"] + padding
            record["image_path"] = bundle_name(index * 11 % entries)
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def memory_mb() -> dict:
    """This process's resident and private memory now (/proc), and its peak RSS."""
    values = {}
    with open("/proc/self/smaps_rollup") as handle:
        for line in handle:
            key, _, rest = line.partition(":")
            if key in ("Rss", "Private_Clean", "Private_Dirty"):
                values[key] = int(rest.split()[0]) / 1024
    return {"rss": values["Rss"], "private": values["Private_Clean"] + values["Private_Dirty"], "peak": peak_rss_mb()}


def _index_reads(count: int, entries: int, seed: int) -> dict:
    import random

    from dataset_builder import builder

    rng = random.Random(seed)
    started = time.perf_counter()
    for _ in range(count):
        builder._worker_images.read(bundle_name(rng.randrange(entries)))
    return {"reads_per_s": count / (time.perf_counter() - started), **memory_mb()}


def worker_index(zip_path: Path, entries: int) -> dict:
    """Index build time and memory, then 4 forked workers reading through the shared index, as the build does."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from dataset_builder import builder
    from dataset_builder.images import ImageStore

    before = memory_mb()
    started = time.perf_counter()
    builder._worker_images = ImageStore([zip_path])
    index_s = time.perf_counter() - started
    after = memory_mb()
    with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("fork")) as pool:
        workers = list(pool.map(_index_reads, [5_000] * 4, [entries] * 4, range(4)))
    return {
        "entries": len(builder._worker_images.archives[0]),
        "index_s": index_s,
        "index_mb": after["rss"] - before["rss"],
        "parent_peak_mb": after["peak"],
        "worker_peak_rss_mb": max(w["peak"] for w in workers),
        "worker_private_mb": max(w["private"] for w in workers),
        "reads_per_s": sum(w["reads_per_s"] for w in workers),
    }


def worker_zipfile(zip_path: Path, entries: int) -> dict:
    import zipfile

    before = memory_mb()
    started = time.perf_counter()
    archive = zipfile.ZipFile(zip_path)
    index = {info.filename: info for info in archive.infolist()}
    index_s = time.perf_counter() - started
    after = memory_mb()
    return {
        "entries": len(index),
        "index_s": index_s,
        "index_mb": after["rss"] - before["rss"],
        "parent_peak_mb": after["peak"],
    }


def worker_check(records: Path, zip_path: Path, with_images: bool) -> dict:
    from dataset_builder.check import check_release

    started = time.perf_counter()
    report = check_release([records], [zip_path] if with_images else None)
    seconds = time.perf_counter() - started
    return {"records": report.records, "bad": report.bad_records, "seconds": seconds, "peak_rss_mb": peak_rss_mb()}


def run_worker(path_name: str, records: Path, images: Path, output_dir: Path) -> dict:
    command = [sys.executable, __file__, "--worker", path_name, str(records), str(images), str(output_dir)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}
    env["HF_DATASETS_CACHE"] = str(output_dir.parent / f"hf-cache-{path_name}")
    completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"{path_name} worker failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 120_000])
    parser.add_argument("--image-size", type=int, nargs=2, default=[512, 512], metavar=("W", "H"))
    parser.add_argument(
        "--large-image-size",
        type=int,
        nargs=2,
        default=[256, 256],
        metavar=("W", "H"),
        help="image size for N >= 100K (generation time on a shared 2-core machine)",
    )
    parser.add_argument("--quick", action="store_true", help="N = 1K and 4K")
    parser.add_argument("--work-dir", help="where inputs and outputs go (default: a temp dir, removed after)")
    parser.add_argument("--only-index-and-check", action="store_true", help="skip the build comparison")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        path_name, records, images, output_dir = args.worker
        worker = {
            "build": worker_build,
            "naive": worker_naive,
            "naive-embed": lambda *paths: worker_naive(*paths, embed=True),
            "inputs": lambda records, images, out: write_index_and_check_inputs(images, records),
            "index": lambda records, images, out: worker_index(images, INDEX_ENTRIES),
            "zipfile": lambda records, images, out: worker_zipfile(images, INDEX_ENTRIES),
            "check": lambda records, images, out: worker_check(records, images, True),
            "check-no-images": lambda records, images, out: worker_check(records, images, False),
        }[path_name]
        print(json.dumps(worker(Path(records), Path(images), Path(output_dir))))
        return 0

    work_dir = Path(args.work_dir or tempfile.mkdtemp(prefix="bench-dataset-build-"))
    try:
        index_ok = index_and_check(work_dir)
        if args.only_index_and_check:
            return 0 if index_ok else 1
        return build_comparison(args, work_dir)
    finally:
        if not args.work_dir:
            shutil.rmtree(work_dir, ignore_errors=True)


def index_and_check(work_dir: Path) -> bool:
    """The check and zip index rows; returns whether both met their targets."""
    zip_path, records = work_dir / "bundle-1.4M.zip", work_dir / "check-120K.jsonl"
    started = time.perf_counter()
    # Written in a subprocess: zipfile holds every entry's ZipInfo while writing, and Linux carries a process's peak
    # RSS over to the processes it starts, which would inflate the measured workers' peaks.
    run_worker("inputs", records, zip_path, work_dir)
    print(
        f"inputs: {INDEX_ENTRIES} zip entries ({zip_path.stat().st_size / 2**20:.0f} MB), {CHECK_RECORDS} records "
        f"({records.stat().st_size / 2**20:.0f} MB), written in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    index = run_worker("index", records, zip_path, work_dir)
    baseline = run_worker("zipfile", records, zip_path, work_dir)
    checks = {name: run_worker(name, records, zip_path, work_dir) for name in ("check", "check-no-images")}
    print()
    print(
        "| zip index (1.4M entries) | build s | index MB | peak RSS MB (1 process) | worker peak RSS MB | worker private MB | reads/s (4 workers) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(
        f"| dataset_builder.images (shared, forked) | {index['index_s']:.1f} | {index['index_mb']:.0f} | "
        f"{index['parent_peak_mb']:.0f} | {index['worker_peak_rss_mb']:.0f} | {index['worker_private_mb']:.0f} | "
        f"{index['reads_per_s']:.0f} |"
    )
    print(
        f"| zipfile.ZipFile + dict (before, per process) | {baseline['index_s']:.1f} | {baseline['index_mb']:.0f} | "
        f"{baseline['parent_peak_mb']:.0f} | (each worker built its own) | | |"
    )
    print()
    print("| check over 120K records | seconds | records/s | peak RSS MB |")
    print("|---|---:|---:|---:|")
    for name, result in checks.items():
        assert result["records"] == CHECK_RECORDS and result["bad"] == 0, result
        print(
            f"| {name} | {result['seconds']:.1f} | {CHECK_RECORDS / result['seconds']:.0f} | {result['peak_rss_mb']:.0f} |"
        )
    check_rate = CHECK_RECORDS / checks["check"]["seconds"]
    index_ok = index["worker_peak_rss_mb"] < INDEX_WORKER_RSS_TARGET_MB
    check_ok = check_rate >= CHECK_TARGET_RECORDS_PER_S
    print(
        f"zip index: worker peak RSS {index['worker_peak_rss_mb']:.0f} MB (target < {INDEX_WORKER_RSS_TARGET_MB} MB) "
        f"{'PASS' if index_ok else 'SHORT'}; check with images: {check_rate:.0f} records/s "
        f"(target >= {CHECK_TARGET_RECORDS_PER_S}) {'PASS' if check_ok else 'SHORT'}",
        flush=True,
    )
    return index_ok and check_ok


def build_comparison(args, work_dir: Path) -> int:
    from dataset_builder.synthetic import write_synthetic_release

    sizes = [1_000, 4_000] if args.quick else args.sizes
    results = []
    for n in sizes:
        run_dir = work_dir / f"n{n}"
        started = time.perf_counter()
        image_size = tuple(args.large_image_size if n >= 100_000 else args.image_size)
        release = write_synthetic_release(run_dir / "release", n, seed=0, image_size=image_size)
        input_mb = sum(p.stat().st_size for p in release.images_root.rglob("*") if p.is_file()) / 2**20
        print(
            f"N={n}: generated in {time.perf_counter() - started:.0f} s, {image_size[0]}x{image_size[1]} images "
            f"({image_size[0] * image_size[1] / 1000:.0f}K px), {input_mb:.0f} MB",
            flush=True,
        )
        for path_name in ("build", "naive", "naive-embed"):
            result = run_worker(path_name, release.records_path, release.images_root, run_dir / f"out-{path_name}")
            result.update(n=n, path=path_name, records_per_s=result["rows"] / result["seconds"])
            result["image_px"] = f"{image_size[0]}x{image_size[1]}"
            output_mb = sum(p.stat().st_size for p in (run_dir / f"out-{path_name}").rglob("*.parquet")) / 2**20
            result["parquet_mb"] = output_mb
            results.append(result)
            if path_name == "build":
                seconds = result["stages"]["default"]
                default_mb = sum(p.stat().st_size for p in (run_dir / "out-build/default").glob("*.parquet"))
                results.append(
                    {
                        **result,
                        "path": "build:default",
                        "seconds": seconds,
                        "records_per_s": result["rows"] / seconds,
                    }
                )
                results[-1]["parquet_mb"] = default_mb / 2**20
            stages = ", ".join(f"{k} {v:.1f}s" for k, v in result["stages"].items())
            workers = f" (largest image worker {result['worker_peak_rss_mb']:.0f} MB)" if stages else ""
            print(
                f"  {path_name}: {result['seconds']:.1f} s, {result['records_per_s']:.0f} rec/s, "
                f"peak RSS {result['peak_rss_mb']:.0f} MB{workers} {stages}",
                flush=True,
            )
            shutil.rmtree(run_dir / f"out-{path_name}", ignore_errors=True)
        shutil.rmtree(run_dir, ignore_errors=True)

    print()
    columns = f"| {'N':>7} | {'images':>7} | {'path':<13} | {'seconds':>8} | {'records/s':>9} | {'peak RSS MB':>11} |"
    print(columns + f" {'parquet MB':>10} |")
    print(f"|{'-' * 9}|{'-' * 9}|{'-' * 15}|{'-' * 10}|{'-' * 11}|{'-' * 13}|{'-' * 12}|")
    for r in results:
        print(
            f"| {r['n']:>7} | {r['image_px']:>7} | {r['path']:<13} | {r['seconds']:>8.1f} "
            f"| {r['records_per_s']:>9.0f} | {r['peak_rss_mb']:>11.0f} | {r['parquet_mb']:>10.0f} |"
        )
    print(
        "build = the full CLI build (default + rl + sft configs, ShareGPT, report, charts, card; parquet MB sums the "
        "3 configs); build:default = the default config stage of the same run (RSS is the whole run's); naive = the "
        "literal path, whose Parquet holds image PATHS, not bytes (not shippable); naive-embed = the same path with "
        "the image bytes read into the rows (same content as `default`)."
    )
    largest, smallest = max(sizes), min(sizes)

    def find(n: int, path_name: str) -> dict:
        return next(r for r in results if r["n"] == n and r["path"] == path_name)

    build, default, naive = find(largest, "build"), find(largest, "build:default"), find(largest, "naive-embed")
    build_small, naive_small = find(smallest, "build"), find(smallest, "naive-embed")
    print(
        f"builder RSS growth {build_small['peak_rss_mb']:.0f} -> {build['peak_rss_mb']:.0f} MB, "
        f"naive-embed {naive_small['peak_rss_mb']:.0f} -> {naive['peak_rss_mb']:.0f} MB; at N={largest}: "
        f"default/naive-embed {default['records_per_s'] / naive['records_per_s']:.2f}x, "
        f"default/naive {default['records_per_s'] / find(largest, 'naive')['records_per_s']:.2f}x, "
        f"full build/naive-embed {build['records_per_s'] / naive['records_per_s']:.2f}x "
        "(RESULT uses default vs naive-embed: the same table written; the full build writes three configs + exports)"
    )
    passed = (
        build["peak_rss_mb"] < RSS_TARGET_MB
        and naive["peak_rss_mb"] > naive_small["peak_rss_mb"]
        and default["records_per_s"] >= naive["records_per_s"]
    )
    print(
        f"RESULT builder at N={largest}: peak RSS {build['peak_rss_mb']:.0f} MB, default config "
        f"{default['records_per_s']:.0f} rec/s vs naive-embed {naive['records_per_s']:.0f} rec/s "
        f"(target < {RSS_TARGET_MB} MB and >= naive-embed rec/s) {'PASS' if passed else 'SHORT'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
