"""The on-disk alignment cache: content keys, atomic writes, concurrent use."""

import json
from concurrent.futures import ThreadPoolExecutor

from spacy_ita.aligners.cache import AlignmentCache, create_alignment_cache


def test_roundtrip_and_miss(tmp_path):
    cache = create_alignment_cache(str(tmp_path))
    key = cache.key("abc", "sig")
    assert cache.get(key) is None
    value = [{"label": "café", "count": 2, "score": 0.5}]
    cache.set(key, value)
    assert cache.get(key) == value
    assert AlignmentCache(tmp_path).get(key) == value  # another instance (process) sees it


def test_key_depends_on_image_and_settings():
    keys = {AlignmentCache.key(d, s) for d in ("img1", "img2") for s in ("sigA", "sigB")}
    assert len(keys) == 4


def test_damaged_entry_is_a_miss(tmp_path):
    cache = AlignmentCache(tmp_path)
    key = cache.key("abc", "sig")
    cache.set(key, "a caption")
    cache.path(key).write_text('{"value": "a cap', encoding="utf8")
    assert cache.get(key) is None
    cache.set(key, "a caption")
    assert cache.get(key) == "a caption"


def test_concurrent_readers_and_writers(tmp_path):
    """Readers never see half an entry; writers never clash; no temp files linger."""
    cache = AlignmentCache(tmp_path)
    keys = [cache.key(f"image{i}", "sig") for i in range(5)]
    values = {key: ["word"] * 2000 for key in keys}  # large enough that a torn write would show

    def hammer(worker):
        seen = []
        for round_ in range(40):
            key = keys[(worker + round_) % len(keys)]
            if round_ % 2:
                cache.set(key, values[key])
            else:
                seen.append(cache.get(key))
        return seen

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [value for seen in pool.map(hammer, range(8)) for value in seen]
    assert all(value is None or value == ["word"] * 2000 for value in results)
    assert all(cache.get(key) == values[key] for key in keys)
    assert not list(tmp_path.rglob(".tmp-*"))
    assert all(json.loads(p.read_text(encoding="utf8")) for p in tmp_path.rglob("*.json"))
