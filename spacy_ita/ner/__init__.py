from .architecture import TaggerBatch, build_ita_tagger
from .component import ITANER, ita_pipe_names, ita_pipes, make_ita_ner
from .crf import LinearChainCRF
from .heads import SoftmaxHead, tag_heads
from .inputs import EncodedView, ViewEncoder
from .tags import TagSet
from .views import LossWeights, ViewTraining, cross_view_kl, two_view_loss

__all__ = [
    "ITANER",
    "make_ita_ner",
    "ita_pipes",
    "ita_pipe_names",
    "build_ita_tagger",
    "TaggerBatch",
    "LinearChainCRF",
    "SoftmaxHead",
    "tag_heads",
    "LossWeights",
    "ViewTraining",
    "cross_view_kl",
    "two_view_loss",
    "EncodedView",
    "ViewEncoder",
    "TagSet",
]
