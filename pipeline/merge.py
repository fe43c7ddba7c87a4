"""``python -m pipeline.merge RUN_DIR... --out RUN_DIR``: combine run folders (shards) into one.

Each machine of a ``--shard i/N`` run writes its own run folder; merging them gives one folder
that ``build_dataset`` reads like any single run. Documents, their paths, pages, labels, task
definitions and pending batch jobs are combined and page images hard-linked (copied across
disks). Conflicts are resolved by a fixed order, so the result does not depend on the order of
the arguments and merging again changes nothing:

- a label (same request key): ``ok`` beats a failure, then the newest, then the larger raw text;
- a page: rendered (with its image present) beats failed, then the newest render;
- a document: opened beats skipped, then the newest.
- the privacy gate's audit of a page (``privacy_pages``): the newest decision; the redacted images
  that were sent (``redacted/``, content-addressed) are placed like page images.
- review verdicts (an audit trail) are appended, identical ones once; per image and task they keep
  their revision order, a source's after those already merged: where two shards reviewed the same
  image, the verdict that counts is the last-merged shard's newest (the one exception to the
  argument order not mattering). The review queues are not merged: the review app rebuilds them.

The settings each render key stands for (``render_settings:`` meta, which the dataset manifest gives
extract) are facts: copied once. The hash cache (``inputs``) is not merged: it is only a cache, and a resumed run rebuilds it.
Exit codes (``pipeline.cli``, the same for every command): 0 merged, 2 bad input (nothing
written), 3 stopped by a write failure (disk full; sources merged before it are kept), 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.cli import EXIT_CONFIG, EXIT_DONE, EXIT_INTERRUPTED, EXIT_STOPPED, check_out_dir, exit_now, make_parser
from pipeline.errors import ConfigError
from pipeline.render.config import RENDER_SETTINGS_META
from pipeline.store import BATCH_TABLES, REDACTED_DIR, STORE_FILENAME, RunStore, StoreError


@dataclass
class MergeSummary:
    sources: list[str] = field(default_factory=list)
    out: str = ""
    changed: Counter = field(default_factory=Counter)   # table -> rows added or replaced by this merge
    images: Counter = field(default_factory=Counter)    # linked / copied / present / missing_in_source
    totals: dict = field(default_factory=dict)          # the merged store afterwards

    def to_dict(self) -> dict:
        return {"sources": self.sources, "out": self.out, "changed": dict(sorted(self.changed.items())),
                "images": dict(sorted(self.images.items())), "totals": self.totals}


def _place(source: Path, target: Path) -> str:
    """Hard-link source to target (copy across disks); replace atomically. Returns how."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".merge-tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
        how = "linked"
    except OSError:                # another file system, or links not supported
        shutil.copy2(source, tmp)
        how = "copied"
    os.replace(tmp, target)
    return how


def _merge_pages(store: RunStore, src_dir: Path, out_dir: Path, summary: MergeSummary) -> None:
    merged = store.merged_pages()
    for row in store.source_pages():
        rendered = row["status"] == "rendered"
        image = src_dir / row["image_path"] if rendered else None
        if rendered and not image.is_file():
            summary.images["missing_in_source"] += 1
            continue               # a page without its image would only be dropped later
        current = merged.get((row["doc_id"], row["page_index"]))
        rank = (rendered, row["updated_at"], row["image_sha256"])
        if current is not None:
            current_rank = (current["status"] == "rendered", current["updated_at"], current["image_sha256"])
            if rank <= current_rank:
                same = current["image_sha256"] == row["image_sha256"] and rendered
                if same and not (out_dir / row["image_path"]).is_file():   # an earlier merge was cut short
                    summary.images[_place(image, out_dir / row["image_path"])] += 1
                continue
        if rendered:
            target = out_dir / row["image_path"]
            if target.is_file() and os.path.samefile(image, target):
                summary.images["present"] += 1
            else:
                summary.images[_place(image, target)] += 1
        store.put_page_row(row)
        summary.changed["pages"] += 1


def merge_runs(sources: list[Path], out_dir: Path) -> MergeSummary:
    """Merge run folders into out_dir (created, or merged into if it exists); raises ConfigError."""
    sources = [Path(s) for s in sources]
    if not sources:
        raise ConfigError("give at least one run folder to merge")
    for src in sources:
        if not (src / STORE_FILENAME).is_file():
            raise ConfigError(f"{src} is not a docdistill run folder (no {STORE_FILENAME}); "
                              "give the --out folders of python -m pipeline.distill")
        if out_dir.exists() and src.resolve() == out_dir.resolve():
            raise ConfigError(f"--out {out_dir} is also a source: merge into a new folder")
    summary = MergeSummary(sources=[str(s) for s in sources], out=str(out_dir))
    reviewed = audited = False
    for src in sources:            # every source opens as a store (schema version checked) before any write
        with RunStore(src) as source:
            reviewed = reviewed or source.has_review_tables()
            audited = audited or source.has_privacy_tables()
    with RunStore(out_dir) as store:
        store.ensure_batch_tables()
        if audited:
            store.ensure_privacy_tables()
        if reviewed:               # created outside the merge transactions (a script commits)
            store.ensure_review_tables()
        for src in sources:
            with store.attached(src / STORE_FILENAME), store.transaction():
                summary.changed["documents"] += store.merge_table("documents")
                summary.changed["document_paths"] += store.merge_table("document_paths")
                _merge_pages(store, src, out_dir, summary)
                # What each page's render key stands for: the dataset manifest gives it to extract.
                summary.changed["render_settings"] += store.merge_meta(RENDER_SETTINGS_META)
                summary.changed["labels"] += store.merge_table("labels")
                summary.changed["tasks"] += store.merge_table("tasks")
                present = store.source_tables()
                for table in BATCH_TABLES:
                    if table in present:
                        summary.changed[table] += store.merge_table(table)
                if "privacy_pages" in present:       # the gate's audit: the newest decision per page
                    summary.changed["privacy_pages"] += store.merge_table("privacy_pages")
                if "review_verdicts" in present:     # the queues are not merged: rebuilt at each review start
                    summary.changed["review_verdicts"] += store.merge_verdicts()
        for src in sources:        # the redacted images that were sent (build_dataset --train-redacted-mismatches)
            for image in sorted((src / REDACTED_DIR).glob("*/*.*")):
                target = out_dir / image.relative_to(src)
                if not target.is_file() and not image.name.endswith(".tmp"):
                    summary.images[_place(image, target)] += 1
        summary.totals = {"documents": len(store.documents()), "pages": store.count_pages(),
                          "labels": {f"{t}:{o}": n for (t, o), n in sorted(store.count_labels().items())}}
    return summary


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser("python -m pipeline.merge", __doc__)
    parser.add_argument("sources", nargs="+", type=Path, help="run folders to merge (e.g. one per --shard)")
    parser.add_argument("--out", type=Path, required=True, help="merged run folder (created, or merged into)")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        check_out_dir(args.out)
        summary = merge_runs(args.sources, args.out)
    except (ConfigError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except OSError as exc:       # disk full: each source is merged in one transaction, so none is half-merged
        print(f"stopped: {type(exc).__name__}: {exc}\nthe sources merged before it are kept in {args.out}; fix the "
              "cause and rerun (merging again changes nothing)", file=sys.stderr)
        return EXIT_STOPPED
    except KeyboardInterrupt:
        print(f"interrupted: the sources merged so far are kept in {args.out}; rerun the same command to continue "
              "(merging again changes nothing)", file=sys.stderr)
        return EXIT_INTERRUPTED
    if args.json:
        print(json.dumps(summary.to_dict(), ensure_ascii=False))
        return EXIT_DONE
    totals = summary.totals
    print(f"merge: {len(summary.sources)} run folder(s) -> {summary.out}")
    print("  changed: " + (", ".join(f"{t} {n}" for t, n in sorted(summary.changed.items()) if n) or "nothing"))
    print("  images: " + (", ".join(f"{k} {n}" for k, n in sorted(summary.images.items())) or "none placed"))
    print(f"  merged store: {totals['documents']} document(s), pages {totals['pages']}, "
          f"labels {sum(totals['labels'].values())}")
    return EXIT_DONE


if __name__ == "__main__":
    exit_now(main())
