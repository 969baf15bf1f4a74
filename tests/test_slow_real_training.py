"""Full-data training runs (slow: about an hour on 2 CPU cores).

Run with `python -m pytest -m slow`. They train the default config the way a user
would (`spacy train`) on Twitter-2015 train with the real machine captions and
check the model learned the task in both views.
"""

import os
import subprocess
import sys

import pytest
import srsly

pytestmark = pytest.mark.slow


def test_ita_trains_on_twitter2015_and_scores_both_views(shared_data, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    data = shared_data / "twitter2015"
    captions = shared_data / "captions-git-base" / "captions.csv"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "spacy",
            "train",
            "configs/ita.cfg",
            "--output",
            str(tmp_path / "model"),
            "--paths.train",
            str(data / "train.txt"),
            "--paths.dev",
            str(data / "valid.txt"),
            "--paths.captions",
            str(captions),
            "--training.max_epochs",
            "1",
            "--training.optimizer.learn_rate.total_steps",
            "250",
        ],
        check=True,
        env=env,
    )
    metrics = tmp_path / "valid.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "spacy_ita",
            "evaluate-views",
            str(tmp_path / "model" / "model-best"),
            str(data / "valid.txt"),
            "--captions",
            str(captions),
            "--output",
            str(metrics),
        ],
        check=True,
        env=env,
    )
    scores = srsly.read_json(metrics)
    assert scores["n_with_context"] == 917
    # One epoch of MiniLM + CRF already tags most entities of the valid split.
    assert scores["cross_modal"]["ents_f"] > 0.55
    assert scores["text_only"]["ents_f"] > 0.55
