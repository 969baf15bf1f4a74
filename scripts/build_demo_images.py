"""Build the demo set's images from the hand-written spec `assets/demo/images.jsonl`.

Each spec line is one image, either rendered text:

    {"id": "demo_001", "style": "poster", "background": "#1b1446", "color": "#ffd447",
     "lines": ["TAYLOR SWIFT", "THE ERAS TOUR"]}

("headline": i makes line i the large one; the first line by default.)

or a photo copied out of an installed package (located through the package,
so no machine path is written anywhere):

    {"id": "demo_069", "copy_from": {"package": "ultralytics", "path": "assets/zidane.jpg"}}

Rendering is deterministic: a fixed canvas per style and the font embedded in
Pillow (no system fonts), so every machine builds the same pixels and the
images need not be committed.
"""

import json
import shutil
from importlib.util import find_spec
from pathlib import Path

import typer
from PIL import Image, ImageDraw, ImageFont

REPO_ROOT = Path(__file__).resolve().parent.parent

# Canvas size, frame inset and line width per style: signs and logos get a frame
# like the real thing, banners are wide, posters tall. Small canvases keep the
# demo's real OCR pass to minutes on 2 CPU cores (EasyOCR's detector cost grows
# with the pixel count; at these sizes it still reads every demo line exactly).
STYLES = {
    "poster": {"size": (240, 320), "frame": 0},
    "sign": {"size": (320, 160), "frame": 7},
    "banner": {"size": (400, 120), "frame": 0},
    "logo": {"size": (240, 240), "frame": 12},
}
TEXT_WIDTH_SHARE = 0.86  # lines are shrunk until they fit this share of the width
LINE_GAP = 0.25  # gap between lines, as a share of the line height


def fit_font(draw: ImageDraw.ImageDraw, text: str, max_width: float, max_size: int) -> ImageFont.FreeTypeFont:
    size = max_size
    while size > 10:
        font = ImageFont.load_default(size=size)
        left, _, right, _ = draw.textbbox((0, 0), text, font=font)
        if right - left <= max_width:
            return font
        size -= 2
    return ImageFont.load_default(size=size)


def render_text_image(spec: dict) -> Image.Image:
    style = STYLES[spec["style"]]
    width, height = style["size"]
    image = Image.new("RGB", (width, height), spec["background"])
    draw = ImageDraw.Draw(image)
    frame = style["frame"]
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


def copy_package_file(spec: dict, out_dir: Path) -> Path:
    # find_spec locates the package without importing it (importing ultralytics writes settings files).
    package = find_spec(spec["copy_from"]["package"])
    if package is None or package.origin is None:
        raise FileNotFoundError(f"Package '{spec['copy_from']['package']}' is not installed (needed for {spec['id']})")
    source = Path(package.origin).parent / spec["copy_from"]["path"]
    target = out_dir / f"{spec['id']}{source.suffix}"
    shutil.copyfile(source, target)
    return target


def build_images(spec_path: Path, out_dir: Path) -> list:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for line in spec_path.read_text(encoding="utf8").splitlines():
        if not line.strip():
            continue
        spec = json.loads(line)
        if "copy_from" in spec:
            written.append(copy_package_file(spec, out_dir))
        else:
            target = out_dir / f"{spec['id']}.png"
            render_text_image(spec).save(target, format="PNG")
            written.append(target)
    return written


def main(
    spec: Path = typer.Argument(REPO_ROOT / "assets" / "demo" / "images.jsonl", exists=True, dir_okay=False),
    out_dir: Path = typer.Argument(REPO_ROOT / "assets" / "demo" / "images"),
) -> None:
    """Render the demo images (text on signs, posters, banners, logos) and copy the demo photos."""
    written = build_images(spec, out_dir)
    typer.echo(f"DEMO images: wrote {len(written)} images to {out_dir}")


if __name__ == "__main__":
    typer.run(main)
