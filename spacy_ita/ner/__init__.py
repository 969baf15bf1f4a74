from .architecture import PredictionRequest, TrainingRequest, build_ita_tagger
from .component import ITANER, make_ita_ner
from .crf import LinearChainCRF, SoftmaxHead, cross_view_kl
from .inputs import EncodedView, ViewEncoder
from .tags import TagSet

__all__ = [
    "ITANER", "make_ita_ner", "build_ita_tagger", "PredictionRequest", "TrainingRequest",
    "LinearChainCRF", "SoftmaxHead", "cross_view_kl", "EncodedView", "ViewEncoder", "TagSet",
]
