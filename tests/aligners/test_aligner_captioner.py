"""The HF captioner loads an image-to-text model from a directory and captions.

No captioning weights exist offline, so the test uses a tiny
VisionEncoderDecoderModel (ViT encoder + BERT decoder, random weights) with the
tokenizer of the installed tiny BERT: the captions are noise, the plumbing is real.
"""

import pytest
import spacy
from PIL import Image

from spacy_ita.aligners.captioner import create_hf_captioner
from spacy_ita.aligners.tiny_captioner import save_tiny_captioner


@pytest.fixture(scope="module")
def tiny_captioner_dir(tmp_path_factory):
    return save_tiny_captioner(tmp_path_factory.mktemp("tiny-captioner"))


def test_captions_a_batch_from_a_local_directory(tiny_captioner_dir):
    captioner = create_hf_captioner(model=tiny_captioner_dir, max_new_tokens=6)
    images = [Image.new("RGB", (64, 48), "red"), Image.new("RGB", (30, 90), "blue")]
    captions = captioner(images)
    assert len(captions) == 2 and all(isinstance(c, str) and c for c in captions)
    assert all(len(c.split()) <= 6 for c in captions)  # generation length is honoured


def test_in_the_component(tiny_captioner_dir):
    nlp = spacy.blank("en")
    config = {
        "backends": {
            "objects": None,
            "ocr": None,
            "caption": {"@misc": "spacy_ita.HFCaptioner.v1", "model": tiny_captioner_dir},
        }
    }
    nlp.add_pipe("image_aligner", config=config)
    doc = nlp.make_doc("a post")
    doc._.image = Image.new("RGB", (40, 40), "green")
    assert nlp(doc)._.visual_context["caption"]
