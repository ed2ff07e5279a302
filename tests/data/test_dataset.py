import numpy as np
import pytest

from pruneaudit.data import Batch, load_dataset
from pruneaudit.errors import DataError
from pruneaudit.specs import DataSpec
from tests.conftest import DATA


def test_split_selects_the_test_rows():
    ds = load_dataset(DataSpec(path=DATA, split=1))
    assert len(ds) == 2000
    raw = np.load(DATA)
    np.testing.assert_array_equal(ds.labels, raw["labels"][raw["split"] == 1])
    raw_images = ds.images.raw(0, len(ds))
    assert raw_images.shape == (2000, 28, 28) and raw_images.dtype == np.uint8


def test_batches_are_float32_scaled_with_a_channel_axis():
    ds = load_dataset(DataSpec(path=DATA, split=1))
    batch = Batch(ds, 1800, 2000)
    assert len(batch) == 200 and batch.raw.dtype == np.uint8 and batch.labels.tolist() == ds.labels[1800:].tolist()
    b = batch.prepared
    assert b.dtype == np.float32 and b.shape == (200, 1, 28, 28)
    np.testing.assert_allclose(b, ds.images.raw(1800, 2000)[:, None].astype(np.float32) / 255)
    assert batch.prepared is b  # made once, shared by every model of a group


def test_nan_pixels_are_the_datas_fault(tmp_path):
    images = np.zeros((4, 2, 2), dtype=np.float32)
    images[2, 1, 0] = np.nan
    np.savez(tmp_path / "nan.npz", images=images, labels=np.zeros(4, dtype=np.int64))
    ds = load_dataset(DataSpec(path=tmp_path / "nan.npz"))
    with pytest.raises(DataError, match=r"nan\.npz: image 2 holds NaN or infinite values"):
        ds.raw_batch(1, 4)


def test_declared_mean_std_and_scale(tmp_path):
    path = tmp_path / "rgb.npz"
    np.savez(path, images=np.full((2, 3, 4, 4), 2.0, dtype=np.float32), labels=np.array([0, 1]))
    ds = load_dataset(DataSpec(path=path, scale=0.5, mean=(0.0, 1.0, 0.5), std=(1.0, 0.5, 0.25)))
    b = Batch(ds, 0, 2).prepared
    np.testing.assert_allclose(b[:, :, 0, 0], [[1.0, 0.0, 2.0]] * 2)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"images": np.zeros((2, 4, 4))}, "missing array"),
        (
            {"images": np.zeros((2, 4, 4)), "labels": np.array([0.5, 1.0])},
            "labels must be integers or text; received dtype float64",
        ),
        ({"images": np.zeros((3, 4, 4)), "labels": np.array([0, 1])}, "3 images but 2 labels"),
        ({"images": np.zeros((0, 4, 4)), "labels": np.zeros(0, dtype=int)}, "empty"),
        ({"images": np.zeros((2, 4, 4)), "labels": np.array([0, -1])}, "labels must be >= 0"),
        ({"images": np.zeros((2, 16)), "labels": np.array([0, 1])}, r"\(N, H, W\)"),
    ],
)
def test_bad_arrays(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=message) as err:
        load_dataset(DataSpec(path=path))
    assert str(err.value).startswith(str(path))


def test_not_an_npz(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_text("hello")
    with pytest.raises(DataError, match="cannot read as .npz"):
        load_dataset(DataSpec(path=path))


def test_split_without_split_array(tmp_path):
    path = tmp_path / "nosplit.npz"
    np.savez(path, images=np.zeros((2, 4, 4)), labels=np.array([0, 1]))
    with pytest.raises(DataError, match="no 'split' array"):
        load_dataset(DataSpec(path=path, split=1))
