"""The project's demo set (`assets/demo`): the notice every step prints and records when it
runs on it, and the build of its images from their hand-written spec.

Each line of the spec (`assets/demo/images.jsonl`) is one image, either rendered text:

    {"id": "demo_001", "style": "poster", "background": "#1b1446", "color": "#ffd447",
     "lines": ["TAYLOR SWIFT", "THE ERAS TOUR"]}

("headline": i makes line i the large one; the first line by default.)

or a photo copied out of an installed package (located through the package, so no machine
path is written anywhere):

    {"id": "demo_069", "copy_from": {"package": "ultralytics", "path": "assets/zidane.jpg"}}

Rendering is deterministic: a fixed canvas per style and the font embedded in Pillow (no
system fonts), so every machine builds the same pixels and the images need not be committed.
"""

import json
import shutil
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Dict, List, Tuple, Union

from PIL import Image, ImageDraw, ImageFont
from wasabi import msg

DEMO_DATASET = "demo"
DEMO_NOTICE = (
    "DEMO: this run uses the tiny hand-made demo set in assets/demo (72 train / 24 dev posts). "
    "It shows that the pipeline runs end to end; its scores say nothing about the method. "
    "For real results run the workflow on Twitter-2015/2017 (see project.yml)."
)

# Canvas size, frame inset and line width per style: signs and logos get a frame
# like the real thing, banners are wide, posters tall. Small canvases keep the
# demo's real OCR pass to minutes on 2 CPU cores (EasyOCR's detector cost grows
# with the pixel count; at these sizes it still reads every demo line exactly).
# style: (width, height, frame inset), pixels.
STYLES: Dict[str, Tuple[int, int, int]] = {
    "poster": (240, 320, 0),
    "sign": (320, 160, 7),
    "banner": (400, 120, 0),
    "logo": (240, 240, 12),
}
TEXT_WIDTH_SHARE = 0.86  # lines are shrunk until they fit this share of the width
LINE_GAP = 0.25  # gap between lines, as a share of the line height


def is_demo(dataset: str) -> bool:
    """Whether a dataset name is the demo set's."""
    return dataset == DEMO_DATASET


def announce_if_demo(dataset: str) -> None:
    """Print DEMO_NOTICE as a warning when `dataset` is the demo set."""
    if is_demo(dataset):
        msg.warn(DEMO_NOTICE)


def sized_font(size: int) -> ImageFont.FreeTypeFont:
    """Pillow's embedded font at `size` px. Raises RuntimeError for a Pillow built without
    FreeType (its bitmap font has one size: the images would not be the same)."""
    font = ImageFont.load_default(size=size)
    if not isinstance(font, ImageFont.FreeTypeFont):
        raise RuntimeError("Pillow was built without FreeType: the demo images need its scalable font")
    return font


def fit_font(draw: ImageDraw.ImageDraw, text: str, max_width: float, max_size: int) -> ImageFont.FreeTypeFont:
    """The embedded font at the largest size (from `max_size` down, in steps of 2 px) at
    which `text` fits `max_width` pixels."""
    size = max_size
    while size > 10:
        font = sized_font(size)
        left, _, right, _ = draw.textbbox((0, 0), text, font=font)
        if right - left <= max_width:
            return font
        size -= 2
    return sized_font(size)


def render_text_image(spec: Dict[str, Any]) -> Image.Image:
    """One rendered-text spec line (`style`, `background`, `color`, `lines`, optional
    `headline`) as an RGB image of its style's size. Raises KeyError for an unknown style."""
    width, height, frame = STYLES[spec["style"]]
    image = Image.new("RGB", (width, height), spec["background"])
    draw = ImageDraw.Draw(image)
    if frame:
        draw.rounded_rectangle(
            (frame, frame, width - frame, height - frame), radius=frame, outline=spec["color"], width=max(3, frame // 3)
        )
    lines = spec["lines"]
    # One line is the headline (the name, first unless the spec says otherwise, as in
    # "WELCOME TO / JORDAN"); the other lines stay smaller, as on real posters and signs.
    headline = spec.get("headline", 0)
    line_height = height / (len(lines) + 1.5)
    max_width = width * TEXT_WIDTH_SHARE
    headline_font = fit_font(draw, lines[headline], max_width, int(line_height))
    small_size = int(min(line_height * 0.6, headline_font.size * 0.7))
    fonts = [
        headline_font if i == headline else fit_font(draw, line, max_width, small_size) for i, line in enumerate(lines)
    ]
    boxes = [draw.textbbox((0, 0), line, font=font) for line, font in zip(lines, fonts)]
    heights = [bottom - top for _, top, _, bottom in boxes]
    gap = line_height * LINE_GAP
    y = (height - sum(heights) - gap * (len(lines) - 1)) / 2
    for line, font, (left, top, right, _), line_h in zip(lines, fonts, boxes, heights):
        x = (width - (right - left)) / 2 - left
        draw.text((x, y - top), line, font=font, fill=spec["color"])
        y += line_h + gap
    return image


def copy_package_file(spec: Dict[str, Any], out_dir: Path) -> Path:
    """Copy a `copy_from` spec's file out of its installed package into `out_dir` as
    <id><suffix>. Raises FileNotFoundError when the package is not installed."""
    # find_spec locates the package without importing it (importing ultralytics writes settings files).
    package = find_spec(spec["copy_from"]["package"])
    if package is None or package.origin is None:
        raise FileNotFoundError(f"Package '{spec['copy_from']['package']}' is not installed (needed for {spec['id']})")
    source = Path(package.origin).parent / spec["copy_from"]["path"]
    target = out_dir / f"{spec['id']}{source.suffix}"
    shutil.copyfile(source, target)
    return target


def build_images(spec_path: Union[str, Path], out_dir: Union[str, Path]) -> List[Path]:
    """Build every image of the spec at `spec_path` into `out_dir` (created): <id>.png for
    rendered text, <id><suffix> for a copied photo. Returns the paths written, in spec order.
    Raises ValueError naming the line of a spec line that is not a JSON object."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for number, line in enumerate(Path(spec_path).read_text(encoding="utf8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            spec = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{spec_path}:{number}: not a JSON object ({err})") from err
        if "copy_from" in spec:
            written.append(copy_package_file(spec, out_dir))
        else:
            target = out_dir / f"{spec['id']}.png"
            render_text_image(spec).save(target, format="PNG")
            written.append(target)
    return written
