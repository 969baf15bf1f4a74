"""The Ray Data engine on a small local cluster (one for this module, 4 logical
CPUs so that the pools never take every CPU): the same rows as the local
engine, a worker that dies, an aborted job resumed, bad images, one Parquet
schema, and no Ray process left behind."""

import json
import os
import time
from importlib import resources as importlib_resources
from pathlib import Path

import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from spacy_ita.aligners import configs as aligner_configs
from spacy_ita.batch.jobs import RayOptions, annotate_posts
from spacy_ita.batch.outputs import ResultWriter
from spacy_ita.batch.pools import PoolSpec
from spacy_ita.batch.schema import context_schema
from spacy_ita.cli.align_images import align_images_command
from spacy_ita.data.contexts import read_context_jsonl

import batch_support
from batch_support import BLUE, POSTS, WHITE, read_rows, save_model, square, write_posts

ray = pytest.importorskip("ray", reason="the Ray engine needs the ray extra: pip install 'spacy-ita[ray]'")
psutil = pytest.importorskip("psutil")

TESTS_DIR = Path(__file__).resolve().parent
MORE_POSTS = [
    {"id": f"q{i}", "text": f"RT @user : {name} in London # fun"} for i, name in enumerate(("Obama", "Google", "Messi"))
]
ALL_POSTS = POSTS + MORE_POSTS  # 10 posts: batches of 3 do not divide them


def ray_children():
    return [p for p in psutil.Process().children(recursive=True) if p.is_running()]


@pytest.fixture(scope="module")
def ray_session():
    saved = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"  # a loopback test cluster: no token written under $HOME
    ray.init(
        num_cpus=4,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={
            "env_vars": {
                # Workers import this checkout's spacy_ita and the test helpers (pickled by reference).
                "PYTHONPATH": os.pathsep.join([str(TESTS_DIR.parents[1]), str(TESTS_DIR)]),
                "OMP_NUM_THREADS": "1",
            }
        },
    )
    context = ray.data.DataContext.get_current()
    # A stalled pool fails the test instead of hanging it. 600 s, not less: on 2 busy cores
    # (benchmarks beside the suite) starting an actor that imports torch took over 180 s.
    context.execution_no_progress_timeout_s = 600
    context.enable_progress_bars = False
    yield
    ray.shutdown()
    if saved is None:
        os.environ.pop("RAY_AUTH_MODE", None)
    else:
        os.environ["RAY_AUTH_MODE"] = saved


@pytest.fixture(scope="module")
def posts(tmp_path_factory):
    return write_posts(tmp_path_factory.mktemp("posts"), ALL_POSTS)


@pytest.fixture(scope="module")
def local_rows(tmp_path_factory, posts):
    folder = tmp_path_factory.mktemp("local")
    output = folder / "out.jsonl"
    annotate_posts(save_model(folder / "model"), posts, output, batch_size=3, code=batch_support.CODE, progress=False)
    return by_id(read_rows(output))


def by_id(rows):
    """Rows keyed by id (Ray does not keep the order); each id must come once."""
    keyed = {row["id"]: row for row in rows}
    assert len(keyed) == len(rows), "an id was written twice"
    for row in keyed.values():
        for entity in row["entities"]:
            entity["confidence"] = round(entity["confidence"], 5)
    return keyed


def on_ray(workers=1):
    return RayOptions(pools={"ner": PoolSpec(min_workers=workers, max_workers=workers, cpus_per_worker=1)})


def test_interrupted_job_resumed_by_two_workers_one_of_which_dies_gives_the_local_rows(
    ray_session, posts, local_rows, tmp_path, monkeypatch
):
    """Batches of 3 (not dividing the 10 posts): text-only posts, posts with a context or an image, a
    post past the encoder window. The first run, on 1 worker, is interrupted (Ctrl-C in the driver)
    after writing two batches. The rerun, on 2 workers, tags only what is missing, although the first
    worker to tag a doc kills its process (os._exit) and Ray retries its batch. The output holds every
    id once and is the local engine's, row for row (rows of both runs)."""
    output = tmp_path / "out"
    real_write, writes = ResultWriter.write, []

    def interrupted_write(self, rows):
        written = real_write(self, rows)
        writes.append(len(written))
        if len(writes) == 2:
            raise KeyboardInterrupt
        return written

    monkeypatch.setattr(ResultWriter, "write", interrupted_write)
    with pytest.raises(KeyboardInterrupt):
        annotate_posts(
            save_model(tmp_path / "first"),
            posts,
            output,
            engine="ray",
            batch_size=3,
            code=batch_support.CODE,
            ray=on_ray(1),
            progress=False,
        )
    monkeypatch.undo()
    done = set(by_id(read_rows_jsonl_parts(output)))
    assert len(done) == sum(writes) == 6
    log, marker = tmp_path / "computed.txt", tmp_path / "died"
    resuming = save_model(tmp_path / "resuming", log=str(log), die_once=str(marker))
    summary = annotate_posts(
        resuming, posts, output, engine="ray", batch_size=3, code=batch_support.CODE, ray=on_ray(2), progress=False
    )
    assert marker.exists()
    missing = [p for p in ALL_POSTS if p["id"] not in done]
    assert summary.already_done == 6 and summary.annotated == len(missing) == 4 and summary.bad_rows == 0
    assert sorted(log.read_text(encoding="utf8").splitlines()) == sorted(p["text"] for p in missing)
    assert by_id(read_rows_jsonl_parts(output)) == local_rows


def read_rows_jsonl_parts(folder):
    rows = []
    for part in sorted(Path(folder).glob("part-*.jsonl")):
        rows += read_rows(part)
    return rows


def test_align_images_on_ray_matches_local(ray_session, tmp_path, monkeypatch):
    """align-images --engine ray: a stage per backend (the real yolov10n detector, a model-free OCR),
    a batch where no image has objects and one where some do, a broken image: the local engine's
    contexts, in Parquet parts that read back as one dataset."""
    pyarrow_dataset = pytest.importorskip("pyarrow.dataset")
    real_configs = aligner_configs.backend_configs
    monkeypatch.setattr(  # the command imports it when it runs (a light --help)
        aligner_configs,
        "backend_configs",
        lambda **kwargs: {**real_configs(**kwargs), "ocr": batch_support.BACKENDS["ocr"]},
    )
    images = tmp_path / "images"
    images.mkdir()
    # One size for all: YOLO letterboxes a batch of mixed sizes differently, and batches differ between engines.
    size = (480, 360)
    square(WHITE, size).save(images / "a.png")
    square(BLUE, size).save(images / "b.png")
    assets = importlib_resources.files("ultralytics") / "assets"
    for name, source in (("c", "bus.jpg"), ("d", "zidane.jpg")):
        Image.open(assets / source).convert("RGB").resize(size).save(images / f"{name}.jpg")
    (images / "e.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    app = typer.Typer()
    app.command()(align_images_command)
    common = ["--detector", "yolov10n", "--batch-size", "2", "--code", batch_support.CODE]
    local = CliRunner().invoke(app, [str(images), str(tmp_path / "local.jsonl"), *common])
    assert local.exit_code == 0, local.output
    output = tmp_path / "contexts.parquet"
    on_ray = CliRunner().invoke(
        app, [str(images), str(output), *common, "--engine", "ray", "--workers", "1", "--cpus-per-worker", "ocr=0.5"]
    )
    assert on_ray.exit_code == 0, on_ray.output
    table = pyarrow_dataset.dataset(output, format="parquet").to_table()  # one schema across the parts
    assert table.schema == context_schema()
    got = {row["image_id"]: row for row in table.to_pylist()}
    assert got == {row["image_id"]: row for row in read_rows(tmp_path / "local.jsonl")}
    assert got["a"]["objects"] == got["b"]["objects"] == [] and got["b"]["ocr"] == ["PARIS"]
    assert {"bus", "person"} <= {o["label"] for o in got["c"]["objects"]}
    assert "e" not in got  # the broken image: reported, not recorded as aligned (issue #32)
    # The folder is a context source as it is (convert --contexts, the corpus reader).
    assert {key: {"image_id": key, **value} for key, value in read_context_jsonl(output).items()} == got


def test_no_ray_process_is_left_running(ray_session):
    """Last in this module: after shutdown no process Ray started for the tests lives on."""
    assert ray_children(), "expected Ray's processes while the cluster is up"
    ray.shutdown()
    deadline = time.monotonic() + 30
    while ray_children() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert ray_children() == []


def test_a_post_cut_inside_an_emoji_is_repaired_as_on_the_local_engine(ray_session, tmp_path):
    posts = tmp_path / "posts.jsonl"
    rows = [{"id": "a", "text": "Obama in Paris"}, {"id": "cut", "text": "Taylor Swift in London tonight \ud83d"}]
    posts.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf8")
    model = save_model(tmp_path / "model")
    local = annotate_posts(model, posts, tmp_path / "local.jsonl", code=batch_support.CODE, progress=False)
    on = annotate_posts(
        model, posts, tmp_path / "ray.jsonl", engine="ray", code=batch_support.CODE, ray=on_ray(1), progress=False
    )
    assert local.repaired_rows == on.repaired_rows == 1 and on.annotated == 2
    assert by_id(read_rows(tmp_path / "ray.jsonl")) == by_id(read_rows(tmp_path / "local.jsonl"))


def test_generate_contexts_on_ray_writes_each_answered_post_once(ray_session, tmp_path):
    """generate-contexts --engine ray: workers build the generators from their configs and
    keep several requests in flight; an unusable answer leaves the kind empty, named."""
    from chat_server import ChatServer, completion, last_user_text

    from spacy_ita.generators import generate_contexts
    from spacy_ita.generators.configs import generator_configs

    def behave(body, attempt):
        if "server error" in last_user_text(body):
            return 500, {"error": {"message": "boom"}}, 0
        return 200, completion("Named entities: 1. X (person)"), 0

    posts = tmp_path / "posts.jsonl"
    texts = {f"g{i}": f"post number {i}" for i in range(7)}
    texts["bad"] = "server error here"
    posts.write_text("".join(f'{{"id": "{key}", "text": "{text}"}}\n' for key, text in texts.items()))
    with ChatServer(behave) as server:
        configs = generator_configs(
            base_url=server.base_url,
            model="test-model",
            description_model=None,
            description_base_url=None,
            api_key_env="SPACY_ITA_TEST_KEY",
            prompt=None,
            examples=None,
            examples_posts=None,
            examples_contexts=None,
            k=0,
            max_retries=0,
            max_in_flight=4,
        )
        summary = generate_contexts(
            posts,
            tmp_path / "out.jsonl",
            configs=configs,
            engine="ray",
            ray=RayOptions(pools={"generate": PoolSpec(min_workers=1, max_workers=2)}),
            batch_size=3,
            progress=False,
        )
    rows = read_rows(tmp_path / "out.jsonl")
    # The failed post is not written (issue #32): a rerun asks for it again.
    assert sorted(row["image_id"] for row in rows) == sorted(set(texts) - {"bad"})
    assert all(row["knowledge"] for row in rows)
    assert summary.failed["knowledge"] == ["bad"] == summary.unwritten
