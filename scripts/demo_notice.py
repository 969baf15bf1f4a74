"""The one sentence every step prints (and the outputs carry) when it runs on the demo set."""

from wasabi import msg

DEMO_DATASET = "demo"
DEMO_NOTICE = (
    "DEMO: this run uses the tiny hand-made demo set in assets/demo (72 train / 24 dev posts). "
    "It shows that the pipeline runs end to end; its scores say nothing about the method. "
    "For real results run the workflow on Twitter-2015/2017 (see project.yml)."
)


def is_demo(dataset: str) -> bool:
    return dataset == DEMO_DATASET


def announce_if_demo(dataset: str) -> None:
    if is_demo(dataset):
        msg.warn(DEMO_NOTICE)
