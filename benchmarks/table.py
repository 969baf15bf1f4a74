"""The report of bench_real_data.py: the machine it ran on, and the table of
scores, training cost and speed per dataset, system, split and view
(mean ± std over seeds)."""

import os
import platform
import statistics
from pathlib import Path
from typing import Any, Dict, List, Optional

import spacy
import torch

from benchmarks.systems import SYSTEMS

# Twitter-2015 calls its 4th type OTHER, Twitter-2017 MISC: one column.
TYPE_COLUMNS = [("PER", ("PER",)), ("LOC", ("LOC",)), ("ORG", ("ORG",)), ("MISC/OTHER", ("MISC", "OTHER"))]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> Dict[str, Any]:
    from importlib.metadata import version

    return {
        "cores": os.cpu_count(),
        "cpu": cpu_model(),
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "spacy": spacy.__version__,
        "spacy_transformers": version("spacy-transformers"),
        "transformers": version("transformers"),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def machine_line(info: Dict[str, Any]) -> str:
    load = info.get("load_average_at_start")
    load_text = f", load average at start {load[0]:.2f}" if load else ""
    return (
        f"{info['cores']} cores, {info['cpu']}, torch threads {info['torch_threads']} "
        f"(OMP_NUM_THREADS={info['omp_num_threads']}){load_text}; torch {info['torch']}, "
        f"spaCy {info['spacy']}, spacy-transformers {info['spacy_transformers']}, "
        f"transformers {info['transformers']}" + (f"; GPU {info['gpu']}" if info.get("gpu") else "")
    )


def stat(values: List[Optional[float]]) -> Optional[Dict[str, float]]:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {
        "mean": statistics.mean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def type_f(per_type: Optional[Dict[str, Dict[str, float]]], names) -> Optional[float]:
    for name in names:
        if per_type and name in per_type:
            return per_type[name]["f"]
    return None


def aggregate(records: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    groups: Dict[tuple, List[Dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["dataset"], r["system"]), []).append(r)
    rows = []
    for (dataset, system), runs in groups.items():
        for split in runs[0]["scores"]:
            for view in SYSTEMS[system]["views"]:
                scores = [r["scores"][split][view] for r in runs]
                row = {
                    "dataset": dataset,
                    "system": system,
                    "split": split,
                    "view": view,
                    "seeds": [r["seed"] for r in runs],
                    "P": stat([s["ents_p"] for s in scores]),
                    "R": stat([s["ents_r"] for s in scores]),
                    "F": stat([s["ents_f"] for s in scores]),
                    "seconds_per_epoch": stat([r["seconds_per_epoch"] for r in runs]),
                    "peak_rss_mib": stat([r["training"]["peak_rss_mib"] for r in runs]),
                    "docs_per_second": stat([r["speed"][view]["docs_per_second"] for r in runs]),
                }
                for column, names in TYPE_COLUMNS:
                    row[f"F_{column}"] = stat([type_f(s["ents_per_type"], names) for s in scores])
                rows.append(row)
    return rows


def cell(value: Optional[Dict[str, float]], scale: float = 1.0, digits: int = 2) -> str:
    if value is None:
        return "-"
    text = f"{scale * value['mean']:.{digits}f}"
    if value["n"] > 1:
        text += f" ± {scale * value['std']:.{digits}f}"
    return text


def markdown_table(rows: List[Dict[str, Any]]) -> str:
    header = (
        ["dataset", "system", "split", "view", "P", "R", "F1"]
        + [f"F1 {c}" for c, _ in TYPE_COLUMNS]
        + ["train s/epoch", "peak RSS MiB", "docs/s (1 thread)"]
    )
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        cells = (
            [
                row["dataset"],
                row["system"],
                row["split"],
                row["view"].replace("_", "-"),
                cell(row["P"], 100),
                cell(row["R"], 100),
                cell(row["F"], 100),
            ]
            + [cell(row[f"F_{c}"], 100) for c, _ in TYPE_COLUMNS]
            + [
                cell(row["seconds_per_epoch"], digits=1),
                cell(row["peak_rss_mib"], digits=0),
                cell(row["docs_per_second"], digits=1),
            ]
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
