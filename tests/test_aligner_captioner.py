"""The HF captioner loads an image-to-text model from a directory and captions.

No captioning weights exist offline, so the test builds a tiny
VisionEncoderDecoderModel (ViT encoder + BERT decoder, random weights) with the
tokenizer of the installed tiny BERT: the captions are noise, the plumbing is real.
"""
import pytest
from PIL import Image

from spacy_ita.aligners.captioner import create_hf_captioner
from spacy_ita.resources import resolve_model


@pytest.fixture(scope="module")
def tiny_captioner_dir(tmp_path_factory):
    from transformers import (
        AutoTokenizer,
        BertConfig,
        ViTConfig,
        ViTImageProcessor,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
    )

    tokenizer = AutoTokenizer.from_pretrained(resolve_model("tiny-bert-2l"))
    encoder = ViTConfig(image_size=32, patch_size=16, hidden_size=32, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=37)
    decoder = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=37, is_decoder=True, add_cross_attention=True)
    model = VisionEncoderDecoderModel(VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder))
    # BERT has no BOS/EOS: generation starts at [CLS] and stops at [SEP].
    special = {"decoder_start_token_id": tokenizer.cls_token_id, "pad_token_id": tokenizer.pad_token_id,
               "eos_token_id": tokenizer.sep_token_id}
    for config in (model.config, model.generation_config):
        for key, value in special.items():
            setattr(config, key, value)
    directory = tmp_path_factory.mktemp("tiny-captioner")
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(directory)
    return str(directory)


def test_captions_a_batch_from_a_local_directory(tiny_captioner_dir):
    captioner = create_hf_captioner(model=tiny_captioner_dir, max_new_tokens=6)
    images = [Image.new("RGB", (64, 48), "red"), Image.new("RGB", (30, 90), "blue")]
    captions = captioner(images)
    assert len(captions) == 2 and all(isinstance(c, str) and c for c in captions)
    assert all(len(c.split()) <= 6 for c in captions)  # generation length is honoured


def test_in_the_component(tiny_captioner_dir):
    import spacy

    nlp = spacy.blank("en")
    config = {"backends": {"objects": None, "ocr": None,
                           "caption": {"@misc": "spacy_ita.HFCaptioner.v1", "model": tiny_captioner_dir}}}
    nlp.add_pipe("image_aligner", config=config)
    doc = nlp.make_doc("a post")
    doc._.image = Image.new("RGB", (40, 40), "green")
    assert nlp(doc)._.visual_context["caption"]
