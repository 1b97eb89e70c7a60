"""The streaming dataset: shards, deterministic order, chunk contents, disk cache, bad files."""

import numpy as np
import pytest
import soundfile as sf
import torch

from cwrnn_audio.adapters import RawAdapter
from cwrnn_audio.audio.loader import AudioLoader
from cwrnn_audio.data import WindowDataset
from cwrnn_audio.errors import ParameterError


class Ramps:
    """A loader whose file ``k`` is the stream x[t] = 1000 k + t: every chunk names where it came from."""

    def __init__(self, lengths, bad=()):
        self.lengths, self.bad, self.calls = lengths, set(bad), 0

    def __call__(self, k):
        self.calls += 1
        if k in self.bad:
            raise ParameterError(f"file {k}: unreadable")
        x = (1000 * k + np.arange(self.lengths[k])).astype(np.float32)[:, None]
        return [(x, x[:, 0] + 0.5)], {"file": k}


def take(ds, n):
    it = iter(ds)
    return [next(it) for _ in range(n)]


def test_ranks_and_workers_share_out_the_files_without_overlap():
    files = list(range(10))
    seen = []
    for rank in range(3):
        ds = WindowDataset(
            files, Ramps([400] * 10), window=10, chunk_windows=2, val_fraction=0.0, rank=rank, world_size=3
        )
        seen.append(set(ds.rank_files))
        loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
        starts = {int(x[0, 0]) // 1000 for x, _ in [c for c, _ in zip(loader, range(60))]}
        assert starts == set(ds.rank_files)  # both workers' files come through, nothing else
    assert set().union(*seen) == set(files) and sum(map(len, seen)) == 10


def test_chunks_are_the_slices_of_the_encoded_stream_and_the_tail_is_held_out():
    ds = WindowDataset([0, 1], Ramps([205, 130]), window=10, chunk_windows=3, val_fraction=0.2)
    index = ds.index()
    # file 0: 205 steps, 41 held out, 164 left: 5 full chunks of 30; file 1: 26 held out, 104 left: 3
    assert index["chunks"] == 8
    assert [len(v[0]) for v in index["val"]] == [41, 26] and index["val"][0][0][0, 0] == 164
    chunks = take(ds, 80)  # the stream cycles through the files
    assert {int(x[0, 0]) for x, _ in chunks} == {0, 30, 60, 90, 120, 1000, 1030, 1060}
    for x, y in chunks:
        assert x.shape == (30, 1)
        np.testing.assert_array_equal(x[:, 0], x[0, 0] + np.arange(30))
        np.testing.assert_array_equal(y, x[:, 0] + 0.5)


def test_order_is_a_function_of_seed_and_epoch():
    def order(seed, epoch):
        ds = WindowDataset(
            list(range(6)),
            Ramps([300] * 6),
            window=10,
            chunk_windows=1,
            val_fraction=0.0,
            seed=seed,
            shuffle_buffer=16,
        )
        ds.set_epoch(epoch)
        return [int(x[0, 0]) for x, _ in take(ds, 100)]

    assert order(0, 1) == order(0, 1)
    assert order(0, 1) != order(0, 2) and order(0, 1) != order(1, 1)
    assert sorted(order(0, 3)[:100]) != order(0, 3)[:100]  # shuffled across files, not file by file


def test_bad_files_are_listed_and_skipped():
    ds = WindowDataset(
        [0, 1, 2], Ramps([100, 100, 100], bad={1}), window=10, chunk_windows=1, val_fraction=0.0
    )
    index = ds.index()
    assert index["skipped"] == [("1", "file 1: unreadable")] and index["chunks"] == 20
    assert {int(x[0, 0]) // 1000 for x, _ in take(ds, 50)} == {0, 2}


def test_too_few_files_for_the_processes_is_refused():
    with pytest.raises(ParameterError, match="2 file.* for 3 processes"):
        WindowDataset([0, 1], Ramps([10, 10]), window=5, chunk_windows=1, val_fraction=0.0, world_size=3)


def test_audio_cache_holds_the_decoded_resampled_clip_and_follows_the_file(tmp_path):
    path = tmp_path / "a.wav"
    t = np.arange(22050) / 22050
    sf.write(path, (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 22050)
    plain = AudioLoader(RawAdapter(sample_rate=16000))
    cached = AudioLoader(RawAdapter(sample_rate=16000), cache_dir=tmp_path / "cache")
    first = cached.audio(path)
    np.testing.assert_array_equal(first, plain.audio(path))
    (entry,) = (tmp_path / "cache").glob("*.npy")
    np.testing.assert_array_equal(np.load(entry), first)
    np.save(entry, np.zeros_like(first))  # served from the cache: proves the second read used it
    assert not cached.audio(path).any()
    sf.write(
        path, (0.25 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 22050
    )  # a changed file: new entry
    np.testing.assert_array_equal(cached.audio(path), plain.audio(path))
    (streams, _) = cached(path)
    assert streams[0][0].shape[0] == first.shape[1]
