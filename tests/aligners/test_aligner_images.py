"""Bad images never stop a run; odd-but-valid ones are converted and aligned."""

import hashlib
import io
import logging
import struct
import zlib
from importlib import resources as importlib_resources

import numpy
import pytest
import spacy
from PIL import Image, ImageDraw

from spacy_ita.aligners.backend import AlignmentBackend
from spacy_ita.aligners.images import load_image, to_rgb
from spacy_ita.visual_context import empty_context

BUS_JPG = importlib_resources.files("ultralytics") / "assets" / "bus.jpg"


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims `width`x`height` pixels in a few bytes: a decompression bomb's shape."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00")) + chunk(b"IEND", b"")


def write_bad_images(folder):
    """Every failure case, by name → the value put in doc._.image."""
    folder.mkdir(parents=True, exist_ok=True)
    jpeg = BUS_JPG.read_bytes()
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 3])
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg at all" * 20)
    (folder / "bomb.png").write_bytes(png_header_only(40_000, 40_000))
    (folder / "a_directory.jpg").mkdir()
    return {
        "missing": str(folder / "does-not-exist.jpg"),
        "empty": folder / "empty.jpg",
        "truncated": folder / "truncated.jpg",
        "corrupt": folder / "corrupt.jpg",
        "bomb": folder / "bomb.png",
        "directory": folder / "a_directory.jpg",
        "url": "https://example.com/photo.jpg",
        "garbage bytes": b"\x00\x01\x02 not an image",
    }


def write_odd_images(folder):
    """Odd but valid images, by name → path (one under a unicode file name)."""
    folder.mkdir(parents=True, exist_ok=True)
    base = Image.open(BUS_JPG).convert("RGB").resize((160, 200))
    paths = {}

    def save(name, image, **kwargs):
        paths[name] = folder / name
        image.save(paths[name], **kwargs)

    save("cmyk.jpg", base.convert("CMYK"))
    save("alpha.png", base.convert("RGBA"))
    save("gray.png", base.convert("L"))
    gray16 = Image.fromarray((numpy.asarray(base.convert("L"), dtype=numpy.uint16) * 257))
    save("gray16.png", gray16)
    save("palette.gif", base.convert("P"))
    frames = [base, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    save("animated.gif", frames[0], save_all=True, append_images=frames[1:], duration=100)
    save("bus à São Paulo 東京.jpg", base)
    return paths


@pytest.mark.parametrize(
    "case", ["missing", "empty", "truncated", "corrupt", "bomb", "directory", "url", "garbage bytes"]
)
def test_bad_image_is_refused_with_a_warning(tmp_path, caplog, case):
    source = write_bad_images(tmp_path)[case]
    with caplog.at_level(logging.WARNING, logger="spacy_ita"):
        assert load_image(source) is None
    assert any("Skipping image" in record.getMessage() for record in caplog.records)


def test_url_is_refused_clearly(caplog):
    with caplog.at_level(logging.WARNING, logger="spacy_ita"):
        assert load_image("http://example.com/a.jpg") is None
    assert "never fetched" in caplog.text


def test_bomb_limit_is_configurable(tmp_path):
    path = tmp_path / "big.png"
    Image.new("RGB", (300, 300)).save(path)
    assert load_image(path, max_pixels=300 * 300) is not None
    assert load_image(path, max_pixels=300 * 300 - 1) is None


@pytest.mark.parametrize(
    "name",
    ["cmyk.jpg", "alpha.png", "gray.png", "gray16.png", "palette.gif", "animated.gif", "bus à São Paulo 東京.jpg"],
)
def test_odd_images_become_rgb(tmp_path, name):
    loaded = load_image(write_odd_images(tmp_path)[name])
    assert loaded is not None and loaded.image.mode == "RGB" and loaded.image.size == (160, 200)
    # Real content survived the conversion (not a black or clipped-white frame).
    assert 20 < numpy.asarray(loaded.image).mean() < 235


def test_sixteen_bit_is_scaled_not_clipped():
    ramp = Image.fromarray(numpy.array([[0, 32768, 65535]], dtype=numpy.uint16))
    assert numpy.asarray(to_rgb(ramp))[0, :, 0].tolist() == [0, 127, 255]


def test_transparency_becomes_white():
    clear = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert numpy.asarray(to_rgb(clear)).min() == 255


@pytest.mark.parametrize("ink", [(255, 255, 255), (255, 230, 0), (20, 20, 20), (200, 0, 0)])
def test_text_of_any_colour_on_a_transparent_background_keeps_its_contrast(ink):
    """White text on a transparent sticker once became white on white: nothing for OCR to read."""
    sticker = Image.new("RGBA", (120, 40), (0, 0, 0, 0))
    ImageDraw.Draw(sticker).rectangle((10, 10, 110, 30), fill=(*ink, 255))  # the strokes
    rgb = numpy.asarray(to_rgb(sticker), dtype=int)
    stroke, background = rgb[20, 60], rgb[2, 2]
    luma = lambda c: 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]  # noqa: E731
    assert stroke.tolist() == list(ink)
    assert abs(luma(stroke) - luma(background)) > 100


def test_a_transparent_image_read_before_the_contrasting_background_is_not_served_from_the_cache():
    sticker = Image.new("RGBA", (8, 8), (255, 255, 255, 255))
    data = io.BytesIO()
    sticker.save(data, format="PNG")
    assert load_image(data.getvalue()).digest != hashlib.sha256(data.getvalue()).hexdigest()
    opaque = io.BytesIO()
    sticker.convert("RGB").save(opaque, format="PNG")
    assert load_image(opaque.getvalue()).digest == hashlib.sha256(opaque.getvalue()).hexdigest()  # caches kept


def test_bytes_paths_and_pil_images_are_accepted():
    data = BUS_JPG.read_bytes()
    from_bytes, from_path = load_image(data), load_image(str(BUS_JPG))
    assert from_bytes.digest == from_path.digest  # same bytes, same cache key
    assert load_image(Image.open(BUS_JPG)).image.size == from_path.image.size


def test_pipeline_goes_on_past_bad_images(tmp_path, caplog):
    """nlp.pipe over good and bad images with the real (small) detector."""
    bad = write_bad_images(tmp_path / "bad")
    odd = write_odd_images(tmp_path / "odd")
    nlp = spacy.blank("en")
    nlp.add_pipe("image_aligner", config={"backends": {"ocr": None, "objects": {"model": "yolov10n"}}})
    sources = [BUS_JPG, *bad.values(), odd["cmyk.jpg"], odd["bus à São Paulo 東京.jpg"], odd["gray16.png"]]
    docs = []
    for i, source in enumerate(sources):
        doc = nlp.make_doc(f"post {i}")
        doc._.image = source
        docs.append(doc)
    text_only = nlp.make_doc("no image here")
    with caplog.at_level(logging.WARNING, logger="spacy_ita"):
        out = list(nlp.pipe(docs + [text_only], batch_size=4))
    assert out[-1]._.visual_context is None  # no image: left as it was
    assert {o["label"] for o in out[0]._.visual_context["objects"]} >= {"bus", "person"}
    for doc in out[1 : 1 + len(bad)]:
        assert doc._.visual_context == empty_context()
    for doc in out[1 + len(bad) : -1]:
        assert "bus" in {o["label"] for o in doc._.visual_context["objects"]}
    assert sum("Skipping image" in r.getMessage() for r in caplog.records) == len(bad)


def test_a_108_megapixel_phone_photo_is_read_shrunk_and_upright(tmp_path):
    """Issue #32: a 12000x9000 JPEG was skipped by both OCR engines as a "decompression bomb"."""
    from spacy_ita.aligners.images import DOWNSCALE_PIXELS

    photo = Image.new("RGB", (12000, 9000), (0, 0, 255))
    ImageDraw.Draw(photo).rectangle((0, 0, 5999, 8999), fill=(255, 0, 0))  # the left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned 90 degrees clockwise, as phones store portraits
    photo.save(tmp_path / "phone.jpg", quality=60, exif=exif)
    del photo
    loaded = load_image(tmp_path / "phone.jpg")
    assert loaded is not None
    width, height = loaded.image.size
    assert width * height <= DOWNSCALE_PIXELS and width * height > DOWNSCALE_PIXELS // 2
    assert abs(width / height - 9000 / 12000) < 0.01  # upright: portrait
    assert loaded.image.getpixel((width // 2, 5))[0] > 200  # the red half is on top once turned


class ImageSize(AlignmentBackend):
    kind = "objects"

    def load_model(self):
        return None

    def __call__(self, images):
        return [[{"label": f"{image.size[0]}x{image.size[1]}", "count": 1, "score": 1.0}] for image in images]


@spacy.registry.misc("test_aligner_images.ImageSize.v1")
def make_image_size():
    return ImageSize()


def test_an_image_past_the_pixel_limit_is_reported_and_not_recorded_as_aligned(tmp_path, caplog):
    from spacy_ita.batch.jobs import align_image_folder
    from spacy_ita.batch.outputs import finished_ids

    folder = tmp_path / "images"
    folder.mkdir()
    Image.new("RGB", (40, 30), "red").save(folder / "small.png")
    (folder / "bomb.png").write_bytes(png_header_only(30_000, 30_000))  # 900 MP, past the 400 MP limit
    backends = {"objects": {"@misc": "test_aligner_images.ImageSize.v1"}}
    output = tmp_path / "contexts.jsonl"
    with caplog.at_level(logging.WARNING, logger="spacy_ita"):
        timing = align_image_folder(folder, output, backends=backends, progress=False)
    assert timing.rows == 1 and finished_ids(output, "image_id") == {"small"}
    assert "30000x30000 pixels exceeds the limit of 400000000" in caplog.text
    listed = []
    align_image_folder(
        folder, output, backends=backends, progress=False, on_listed=lambda *counts: listed.append(counts)
    )
    assert listed == [(2, 1)]  # the refused image is tried again, not skipped as done
