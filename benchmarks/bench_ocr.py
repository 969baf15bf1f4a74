"""The OCR engines side by side: speed, accuracy against known text, memory, first call.

    OMP_NUM_THREADS=1 python -m benchmarks.bench_ocr [--rendered 72] [--engines rapidocr,easyocr]

Every engine reads the same images, one thread, each in a fresh process of its
own (so its memory and first call are its own), through the project's backends
(`spacy_ita.RapidOCR.v1`, `spacy_ita.EasyOCR.v1`, default settings) and the
project's image loader (`load_image`, so transparency is handled as
`aligners/images.py` `to_rgb` does it today).

Image sets, all built here from installed packages (nothing downloaded):
- photos: the sample photos installed packages ship (Ultralytics' bus.jpg and
  zidane.jpg, the demo set's copies of them, scikit-image's photos when installed);
  speed only, their text is not known;
- text-heavy: signs, posters and chat/tweet screenshots rendered here, plus every
  eighth demo image (spacy_ita/demo.py); speed and accuracy;
- rendered: `--rendered` known strings, cycling through fonts (Pillow's own and the
  DejaVu/Computer Modern TTFs matplotlib ships), sizes, colours, real-photo
  backgrounds, slight rotations, and transparent backgrounds; accuracy (and speed).

Accuracy, case-insensitive, punctuation stripped at word edges: word recall (known
words read, as a multiset), character error rate (edit distance of the lines read,
joined by spaces, to the known text, over its length), invented words (words read
that the image does not contain).
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from importlib.util import find_spec  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Dict, List, Sequence  # noqa: E402

from PIL import Image, ImageDraw, ImageFont  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
ENGINES = {"rapidocr": "RapidOCR", "easyocr": "EasyOCR"}

# Known strings of the kind posts show: names, places, teams, events, offers.
STRINGS = [
    "Welcome to Chicago",
    "Taylor Swift live tonight",
    "MANCHESTER UNITED 3 1 LIVERPOOL",
    "Kevin Durant joins the Warriors",
    "Paris Fashion Week 2016",
    "GRAND OPENING SALE 50% OFF",
    "Obama signs the bill",
    "New York City Marathon",
    "Real Madrid vs Barcelona",
    "Coffee shop open daily",
    "Vote Hillary Clinton",
    "Golden State Warriors",
    "Happy Birthday Emma",
    "London Bridge Station",
    "Justin Bieber World Tour",
    "Los Angeles Lakers 24",
    "Apple Store Fifth Avenue",
    "Super Bowl LI Houston",
    "Boston Red Sox Fenway Park",
    "Save the date June 12",
    "Brexit means Brexit",
    "Starbucks Pumpkin Spice Latte",
    "Rio 2016 Olympic Games",
    "Microsoft Build Seattle",
]
SCREENSHOT_LINES = [
    "Donald Trump @realDonaldTrump",
    "Just landed in Iowa with Mike Pence.",
    "Big crowd tonight in Des Moines!",
    "Replying to @CNN and @FoxNews",
    "Chelsea beat Arsenal 3 0 at Stamford Bridge",
    "Retweets 12,458 Likes 40,211",
    "Hillary Clinton @HillaryClinton",
    "Thank you Philadelphia for a great night",
    "Sent from Twitter for iPhone",
    "10:42 PM Nov 8 2016",
]
POSTER_LINES = [
    ["COACHELLA", "VALLEY MUSIC", "AND ARTS FESTIVAL", "APRIL 2017", "INDIO CALIFORNIA"],
    ["NEW YORK", "KNICKS", "VS", "BOSTON CELTICS", "MADISON SQUARE GARDEN"],
]
SIGN_LINES = [["MAIN STREET", "Market 24 Hours"], ["HOLLYWOOD BLVD", "Walk of Fame"]]
COLOURS = [  # (text, background) on plain backgrounds
    ("#000000", "#ffffff"),
    ("#ffffff", "#1b3a6b"),
    ("#ffd447", "#c8102e"),
    ("#222222", "#f2e6c9"),
    ("#ffffff", "#0b6b3a"),
    ("#3a3a3a", "#d9d9d9"),
]
SIZES = [22, 30, 40, 56]
ROTATIONS = [0, 0, -3, 2, 0, 4]
SKIMAGE_PHOTOS = ["astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png"]


# ---------------------------------------------------------------- the images


def package_file(package: str, inner: str) -> Path:
    """A file inside an installed package, located without importing it."""
    spec = find_spec(package)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(package)
    path = Path(spec.origin).parent / inner
    if not path.is_file():
        raise FileNotFoundError(path)
    return path


def photo_paths() -> List[Path]:
    paths = [package_file("ultralytics", f"assets/{name}") for name in ("bus.jpg", "zidane.jpg")]
    for name in SKIMAGE_PHOTOS:
        try:
            paths.append(package_file("skimage", f"data/{name}"))
        except FileNotFoundError:
            pass
    return paths


def fonts() -> List[Any]:
    """Font makers by name: Pillow's embedded font and the TTFs matplotlib ships (if installed)."""
    makers = {"pillow-default": lambda size: ImageFont.load_default(size=size)}
    for name in ("DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono-Bold.ttf", "cmss10.ttf", "DejaVuSans-Bold.ttf"):
        try:
            path = package_file("matplotlib", f"mpl-data/fonts/ttf/{name}")
        except FileNotFoundError:
            continue
        makers[name.removesuffix(".ttf")] = lambda size, path=path: ImageFont.truetype(str(path), size)
    return list(makers.items())


def render(text_lines: Sequence[str], font, text_colour, background, *, angle=0.0, stroke=0, pad=30) -> Image.Image:
    """Lines centred on `background` (a colour, a PIL photo, or None: transparent), rotated by `angle` degrees."""
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    boxes = [probe.textbbox((0, 0), line, font=font, stroke_width=stroke) for line in text_lines]
    line_height = max(b[3] - b[1] for b in boxes)
    gap = line_height // 2
    width = max(b[2] - b[0] for b in boxes) + 2 * pad
    height = len(text_lines) * line_height + (len(text_lines) - 1) * gap + 2 * pad
    layer = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    y = pad
    for line, box in zip(text_lines, boxes):
        x = (width - (box[2] - box[0])) / 2 - box[0]
        draw.text((x, y - box[1]), line, font=font, fill=text_colour, stroke_width=stroke, stroke_fill="#000000")
        y += line_height + gap
    if angle:
        layer = layer.rotate(angle, resample=Image.BICUBIC, expand=True)
    if background is None:
        return layer
    if isinstance(background, Image.Image):
        base = background.convert("RGB").resize(layer.size).convert("RGBA")
    else:
        base = Image.new("RGBA", layer.size, background)
    return Image.alpha_composite(base, layer).convert("RGB")


def rendered_set(folder: Path, count: int) -> List[Dict[str, Any]]:
    """`count` images of known strings, cycling through fonts, sizes, colours, backgrounds, rotations."""
    rng = random.Random(22)
    font_makers = fonts()
    photos = [Image.open(p).convert("RGB") for p in photo_paths()]
    items = []
    for i in range(count):
        # Each pass over the strings shifts by one, so a string meets a different background each time.
        text = STRINGS[(i + i // len(STRINGS)) % len(STRINGS)]
        words = text.split()
        two_lines = rng.random() < 0.33
        lines = [" ".join(words[: len(words) // 2]), " ".join(words[len(words) // 2 :])] if two_lines else [text]
        # Drawn independently (seeded), so that no two conditions always come together.
        font_name, make_font = rng.choice(font_makers)
        size = rng.choice(SIZES)
        angle = rng.choice(ROTATIONS) * rng.choice((1, -1))
        kind = ["plain", "plain", "photo", "plain", "photo", "transparent"][i % 6]
        stroke = 0
        if kind == "plain":
            colour, background = rng.choice(COLOURS)
        elif kind == "photo":
            photo = rng.choice(photos)
            # A random crop of a real photo; white text with a dark outline, as posts overlay it.
            w, h = photo.size
            cw, ch = rng.randint(w // 3, w), rng.randint(h // 4, h // 2)
            x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
            colour, background, stroke = "#ffffff", photo.crop((x, y, x + cw, y + ch)), max(1, size // 14)
        else:
            # Dark text, and every second time light text, on a transparent background.
            colour, background = ("#111111" if (i // 6) % 2 == 0 else "#ffffff"), None
            kind = "transparent, dark text" if colour == "#111111" else "transparent, light text"
        image = render(lines, make_font(size), colour, background, angle=angle, stroke=stroke)
        path = folder / f"rendered{i:03d}.png"
        image.save(path)
        items.append(
            {
                "path": str(path),
                "text": " ".join(lines),
                "font": font_name,
                "size": size,
                "angle": angle,
                "background": kind,
            }
        )
    return items


def text_heavy_set(folder: Path) -> List[Dict[str, Any]]:
    """Signs, posters and screenshots rendered here, and every eighth demo image: known text."""
    items = []
    font_makers = dict(fonts())
    sans = font_makers.get("DejaVuSans", font_makers["pillow-default"])
    bold = font_makers.get("DejaVuSans-Bold", sans)
    # Screenshots: a tweet-like page, small dark text on white, many lines.
    for n, start in enumerate((0, 5)):
        lines = SCREENSHOT_LINES[start:] + SCREENSHOT_LINES[:start]
        image = Image.new("RGB", (720, 560), "#ffffff")
        draw = ImageDraw.Draw(image)
        for row, line in enumerate(lines):
            draw.text((24, 24 + row * 52), line, font=sans(22), fill="#14171a" if row % 3 else "#1d9bf0")
        items.append(save(image, folder / f"screenshot{n}.png", " ".join(lines), "screenshot"))
    for n, lines in enumerate(POSTER_LINES):
        image = render(lines, bold(48), "#ffffff", ["#6a1b9a", "#0d47a1"][n], pad=60)
        items.append(save(image, folder / f"poster{n}.png", " ".join(lines), "poster"))
    for n, lines in enumerate(SIGN_LINES):
        image = render(lines, bold(40), "#ffffff", "#0b6b3a", pad=40)
        ImageDraw.Draw(image).rounded_rectangle(
            (8, 8, image.width - 8, image.height - 8), 12, outline="#ffffff", width=4
        )
        items.append(save(image, folder / f"sign{n}.png", " ".join(lines), "sign"))
    from spacy_ita.demo import render_text_image

    specs = [json.loads(line) for line in (REPO_ROOT / "assets" / "demo" / "images.jsonl").read_text().splitlines()]
    for spec in [s for s in specs if "lines" in s][::8]:
        image = render_text_image(spec)
        items.append(save(image, folder / f"{spec['id']}.png", " ".join(spec["lines"]), f"demo {spec['style']}"))
    return items


def save(image: Image.Image, path: Path, text: str, kind: str) -> Dict[str, Any]:
    image.save(path)
    return {"path": str(path), "text": text, "background": kind}


# ---------------------------------------------------------------- one engine, in its own process


def run_engine(engine: str, sets_file: Path) -> Dict[str, Any]:
    """Load one engine, read every set; times, the lines read, the memory."""
    start = time.perf_counter()
    if engine == "easyocr":
        import torch

        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
        import easyocr  # noqa: F401
    else:
        import onnxruntime  # noqa: F401
        import rapidocr  # noqa: F401
    from spacy_ita.aligners.images import load_image
    from spacy_ita.aligners.ocr import create_easyocr_backend, create_rapidocr_backend

    imported = time.perf_counter() - start
    rss_imported = peak_rss_mib()
    sets = json.loads(sets_file.read_text())
    backend = (create_easyocr_backend if engine == "easyocr" else create_rapidocr_backend)()
    first = load_image(sets["rendered"][0]["path"]).image
    start = time.perf_counter()
    backend([first])  # loads the model
    first_call = time.perf_counter() - start
    result = {"import_s": imported, "first_call_s": first_call, "rss_imported_mib": rss_imported, "sets": {}}
    for name, items in sets.items():
        images = [load_image(item["path"]).image for item in items]
        lines, seconds = [], []
        cpu_start = time.process_time()
        for image in images:
            start = time.perf_counter()
            lines.append(backend([image])[0])
            seconds.append(time.perf_counter() - start)
        cpu = time.process_time() - cpu_start
        result["sets"][name] = {"lines": lines, "seconds": seconds, "cpu_s": cpu}
        print(f"  {engine}: {name}: {len(images)} images, {sum(seconds):.1f} s", file=sys.stderr, flush=True)
    result["peak_rss_mib"] = peak_rss_mib()
    return result


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# ---------------------------------------------------------------- scoring


def words(text: str) -> List[str]:
    """Case-folded words, punctuation stripped at their edges."""
    stripped = (re.sub(r"^\W+|\W+$", "", w) for w in text.casefold().split())
    return [w for w in stripped if w]


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions), two rows."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def score(truth: str, lines: List[str]) -> Dict[str, float]:
    known, read = words(truth), words(" ".join(lines))
    found = sum((Counter(known) & Counter(read)).values())
    invented = sum(1 for w in read if w not in set(known))
    reference, hypothesis = " ".join(known), " ".join(read)
    return {
        "known": len(known),
        "found": found,
        "read": len(read),
        "invented": invented,
        "edits": edit_distance(reference, hypothesis),
        "chars": len(reference),
    }


def summary(scores: List[Dict[str, float]]) -> Dict[str, float]:
    total = {key: sum(s[key] for s in scores) for key in scores[0]}
    return {
        "recall": total["found"] / total["known"],
        "cer": total["edits"] / total["chars"],
        "invented": total["invented"],
        "invented_share": total["invented"] / max(total["read"], 1),
    }


# ---------------------------------------------------------------- report


def machine_line() -> str:
    from importlib.metadata import version

    from benchmarks.table import cpu_model

    versions = ", ".join(f"{p} {version(p)}" for p in ("rapidocr", "onnxruntime", "easyocr", "torch"))
    load = "load average %.1f %.1f %.1f" % os.getloadavg()
    threads = f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}"
    return f"{os.cpu_count()} cores ({cpu_model()}), {load}, {threads}, {versions}"


def table(rows: List[List[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def report(sets: Dict[str, List[Dict[str, Any]]], results: Dict[str, Dict[str, Any]]) -> None:
    names = list(results)
    rows = [["", *(ENGINES[n] for n in names)] + (["ratio"] if len(names) == 2 else [])]

    def add(label, values, fmt, ratio=None):
        row = [label, *(fmt.format(v) for v in values)]
        if len(names) == 2:
            row.append(ratio(values) if ratio else "")
        rows.append(row)

    speedup = lambda v: f"{v[0] / v[1]:.1f}x" if v[1] else ""  # noqa: E731
    for name in sets:
        add(
            f"{name}: images/s ({len(sets[name])} images)",
            [len(sets[name]) / sum(results[n]["sets"][name]["seconds"]) for n in names],
            "{:.3f}",
            speedup,
        )
        # Per CPU second of the process: what a core fully its own would give (the wall
        # clock also counts the time the OS gave the core to other processes).
        add(
            f"{name}: images per CPU second",
            [len(sets[name]) / results[n]["sets"][name]["cpu_s"] for n in names],
            "{:.3f}",
            speedup,
        )
    scored = {n: {} for n in names}
    for n in names:
        for name in ("text_heavy", "rendered"):
            scored[n][name] = [
                score(item["text"], lines) for item, lines in zip(sets[name], results[n]["sets"][name]["lines"])
            ]
    for name in ("rendered", "text_heavy"):
        sums = [summary(scored[n][name]) for n in names]
        add(f"{name}: word recall", [s["recall"] for s in sums], "{:.3f}")
        add(f"{name}: character error rate", [s["cer"] for s in sums], "{:.3f}")
        add(
            f"{name}: invented words (share of words read)",
            [(s["invented"], s["invented_share"]) for s in sums],
            "{0[0]} ({0[1]:.2f})",
        )
    add("first call (model load + 1 image), s", [results[n]["first_call_s"] for n in names], "{:.1f}")
    add("library import, s", [results[n]["import_s"] for n in names], "{:.1f}")
    add("RSS after import, MiB", [results[n]["rss_imported_mib"] for n in names], "{:.0f}")
    add("peak RSS, MiB", [results[n]["peak_rss_mib"] for n in names], "{:.0f}")
    add(
        "peak RSS over the imports (the engine's own), MiB",
        [results[n]["peak_rss_mib"] - results[n]["rss_imported_mib"] for n in names],
        "{:.0f}",
    )
    print(table(rows))
    # Word recall on the rendered set by condition.
    print("\nWord recall on the rendered set by condition (images):")
    rows = [["condition", *(ENGINES[n] for n in names)]]
    for field in ("background", "font", "size", "angle"):
        groups = defaultdict(list)
        for i, item in enumerate(sets["rendered"]):
            groups[item[field]].append(i)
        for value, indices in sorted(groups.items(), key=lambda kv: str(kv[0])):
            recalls = [summary([scored[n]["rendered"][i] for i in indices])["recall"] for n in names]
            rows.append([f"{field} = {value} ({len(indices)})", *(f"{r:.3f}" for r in recalls)])
    print(table(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rendered", type=int, default=72, help="rendered known-text images")
    parser.add_argument("--engines", default="rapidocr,easyocr", help="comma-separated, from: " + ", ".join(ENGINES))
    parser.add_argument("--show", action="store_true", help="also print every image's known text and lines read")
    parser.add_argument("--report", type=Path, help="print the tables again from a finished run's folder")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # run one engine (in a child process)
    parser.add_argument("--sets", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.out.write_text(json.dumps(run_engine(args.worker, args.sets)))
        return
    if args.report:
        sets = json.loads((args.report / "sets.json").read_text())
        runs = [args.report / f"{e}.json" for e in ENGINES]
        report(sets, {run.stem: json.loads(run.read_text()) for run in runs if run.exists()})
        return
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(engines) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engines {sorted(unknown)}")
    work = Path(tempfile.mkdtemp(prefix="bench-ocr-"))
    sets = {
        "photos": [{"path": str(p)} for p in photo_paths()],
        "text_heavy": text_heavy_set(work),
        "rendered": rendered_set(work, args.rendered),
    }
    sets_file = work / "sets.json"
    sets_file.write_text(json.dumps(sets))
    print(machine_line())
    print(f"images: {', '.join(f'{name} {len(items)}' for name, items in sets.items())}; in {work}", flush=True)
    print(f"(--report {work} prints the tables again)")
    results = {}
    for engine in engines:
        out = work / f"{engine}.json"
        worker = ["--worker", engine, "--sets", str(sets_file), "--out", str(out)]
        subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_ocr", *worker],
            check=True,
            env={
                **os.environ,
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
            },
        )
        results[engine] = json.loads(out.read_text())
    if args.show:
        for name in ("text_heavy", "rendered"):
            for i, item in enumerate(sets[name]):
                print(f"{name} {Path(item['path']).name} [{item['background']}] {item['text']!r}")
                for engine in engines:
                    print(f"    {ENGINES[engine]:>8}: {results[engine]['sets'][name]['lines'][i]}")
    report(sets, results)


if __name__ == "__main__":
    main()
