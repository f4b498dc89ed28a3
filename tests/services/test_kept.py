"""Kept collections: stored under an unguessable key in a real directory, restored exactly,
not listable, bounded by a time to live and a disk quota; hostile keys get clear messages."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from core.data import Collection
from core.data._formats import to_parquet_bytes
from core.embedding._types import EmbedderSpec
from core.errors import BudgetExceededError, CollectionError, InvalidInputError
from core.services import KeptCollections, is_token, new_token

SPEC = EmbedderSpec("use-multilingual", "universal-sentence-encoder-multilingual-3", None)
LOAD_LIMIT = 2**30


class Clock:
    """A settable clock: expiry is tested by moving time, not by waiting."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _collection(n: int = 3) -> Collection:
    texts = [f"熊猫 doc {i}" for i in range(n)]
    vectors = np.random.default_rng(n).standard_normal((n, 8)).astype(np.float32)
    return Collection.create(texts, vectors, SPEC, pd.DataFrame({"source": ["notes.txt"] * n}))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def kept(tmp_path, clock) -> KeptCollections:
    return KeptCollections(tmp_path / "kept", ttl_s=3600, max_total_bytes=2**20, clock=clock)


def test_keep_then_load_round_trips_and_files_do_not_hold_the_key(kept):
    original = _collection()
    token, info = kept.keep(original, "notes")
    assert is_token(token) and len(token) == 43
    assert (info.name, info.count, info.dimension) == ("notes", 3, 8)
    assert info.expires_at - info.saved_at == 3600
    loaded, again = kept.load(token, max_bytes=LOAD_LIMIT)
    assert again == info
    assert loaded.texts == original.texts
    np.testing.assert_array_equal(loaded.embeddings, original.embeddings)
    names = sorted(p.name for p in kept.root.iterdir())
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert names == [f"{digest}.json", f"{digest}.parquet"]
    assert not any(token in p.read_bytes().decode("latin-1") for p in kept.root.iterdir())


def test_keys_are_unique_and_one_visitor_cannot_read_another(kept):
    mine, _ = kept.keep(_collection(3), "mine")
    theirs, _ = kept.keep(_collection(5), "theirs")
    assert mine != theirs
    assert kept.info(mine).name == "mine" and kept.info(theirs).count == 5
    assert len({new_token() for _ in range(100)}) == 100


def test_keeping_again_under_the_same_key_replaces_and_restarts_the_time(kept, clock):
    token, first = kept.keep(_collection(3), "notes")
    clock.now += 1800
    same, second = kept.keep(_collection(4), "notes", token=token)
    assert same == token and second.count == 4
    assert second.expires_at == first.expires_at + 1800
    assert len(list(kept.root.glob("*.parquet"))) == 1


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "../../etc/passwd", "a" * 42, "a" * 44, "é" * 43, "a/" * 21 + "a"],
)
def test_forged_keys_are_refused_before_the_disk_is_touched(kept, token):
    with pytest.raises(InvalidInputError, match="does not hold a valid key"):
        kept.info(token)
    with pytest.raises(InvalidInputError, match="does not hold a valid key"):
        kept.load(token, max_bytes=LOAD_LIMIT)
    assert not kept.root.exists()


def test_a_well_formed_key_nobody_kept_says_so(kept):
    with pytest.raises(CollectionError, match="never existed, or it expired long ago"):
        kept.info(new_token())


def test_an_expired_collection_is_deleted_and_says_when(kept, clock):
    token, _ = kept.keep(_collection(), "notes")
    clock.now += 3601
    with pytest.raises(CollectionError, match=r"expired at 2027-01-15 09:00 UTC \(collections"):
        kept.info(token)
    assert not list(kept.root.glob("*.parquet"))
    clock.now += 2 * 3600  # the marker goes too, after a while
    kept.purge()
    assert list(kept.root.iterdir()) == []
    with pytest.raises(CollectionError, match="never existed"):
        kept.info(token)


def test_purge_deletes_only_expired_collections(kept, clock):
    old, _ = kept.keep(_collection(), "old")
    clock.now += 3000
    fresh, _ = kept.keep(_collection(), "fresh")
    clock.now += 700
    assert kept.purge() == 1
    assert kept.info(fresh).name == "fresh"
    with pytest.raises(CollectionError, match="expired at"):
        kept.info(old)


def test_a_forgotten_collection_says_it_was_removed(kept):
    token, _ = kept.keep(_collection(), "notes")
    assert kept.forget(token) is True
    assert kept.forget(token) is False
    with pytest.raises(CollectionError, match=r"was removed from the server at .* UTC"):
        kept.load(token, max_bytes=LOAD_LIMIT)


def test_the_quota_refuses_rather_than_evicting_another_visitor(tmp_path, clock):
    size = len(to_parquet_bytes(_collection(50)))
    kept = KeptCollections(tmp_path, ttl_s=60, max_total_bytes=int(size * 1.5), clock=clock)
    first, _ = kept.keep(_collection(50), "first")
    with pytest.raises(BudgetExceededError, match=r"cannot keep this collection.*Download it"):
        kept.keep(_collection(50), "second")
    assert kept.info(first).name == "first"
    kept.keep(_collection(50), "first again", token=first)  # replacing its own copy fits
    clock.now += 61  # once the first expired, there is room
    kept.keep(_collection(50), "second")
    assert kept.used_bytes() <= kept.max_total_bytes


def test_a_damaged_file_is_refused_with_a_message(kept):
    token, _ = kept.keep(_collection(), "notes")
    (path,) = kept.root.glob("*.parquet")
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CollectionError, match=r"kept collection notes\.parquet"):
        kept.load(token, max_bytes=LOAD_LIMIT)


def test_bad_settings_are_refused(tmp_path):
    with pytest.raises(InvalidInputError, match="ttl_s must be positive"):
        KeptCollections(tmp_path, ttl_s=0)
    with pytest.raises(InvalidInputError, match="max_total_bytes must be positive"):
        KeptCollections(tmp_path, max_total_bytes=0)
