"""A tiny random-weights image-to-text model, for testing and timing the
captioner's plumbing where no real captioning weights exist (offline). Its
captions are noise: never use it for results."""

from pathlib import Path
from typing import Union

from ..resources import resolve_model


def save_tiny_captioner(directory: Union[str, Path], tokenizer_model: str = "tiny-bert-2l") -> str:
    """Save a VisionEncoderDecoderModel (1-layer ViT + 1-layer BERT decoder), its
    image processor and the installed tiny BERT's tokenizer to `directory`."""
    from transformers import (
        AutoTokenizer,
        BertConfig,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
        ViTImageProcessor,
    )

    tokenizer = AutoTokenizer.from_pretrained(resolve_model(tokenizer_model))
    encoder = ViTConfig(
        image_size=32, patch_size=16, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37
    )
    decoder = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        is_decoder=True,
        add_cross_attention=True,
    )
    model = VisionEncoderDecoderModel(VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder))
    # BERT has no BOS/EOS: generation starts at [CLS], stops at [SEP], pads with [PAD].
    special = {
        "decoder_start_token_id": tokenizer.cls_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.sep_token_id,
    }
    for config in (model.config, model.generation_config):
        for key, value in special.items():
            setattr(config, key, value)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(directory)
    return str(directory)
