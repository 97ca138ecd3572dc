"""The data-parallel training step: the threads' gradients add up to the one-thread gradient,
its statistics are the batch's, the trainer picks it when it can, and the BLAS thread count it
relies on is 1 while any part runs and restored after."""
import threading
import time

import numpy as np
import pytest

import minivae
from minivae import blas, checkpoint
from minivae.models import CategoricalVAE
from minivae.gradcheck import numerical_gradient, relative_error
from minivae.parallel import DataParallel
from minivae.train import Trainer

needs_blas = pytest.mark.skipif(not blas.available(), reason="the BLAS thread count cannot be set here")

MODELS = {
    "vae-diagonal": lambda: minivae.VAE(12, 3, (7, 5), dtype="float64", seed=1),
    "vae-isotropic": lambda: minivae.VAE(12, 3, (7,), posterior="isotropic", dtype="float64", seed=1),
    "vae-shared-gaussian": lambda: minivae.VAE(12, 3, (7,), likelihood="gaussian-learned", posterior="shared",
                                               dtype="float64", seed=1),
    "vae-separate-tanh": lambda: minivae.VAE(12, 3, (7,), encoder="separate", activation="tanh",
                                             dtype="float64", seed=1),
    "ae": lambda: minivae.AE(12, 3, (7,), dtype="float64", seed=1),
}


class _Recorder:
    """An optimizer that only records the gradient it would apply (with the other parts')."""

    def __init__(self, params):
        self.params = params

    def step(self, also=()):
        self.grad = self.params.grad.copy()
        for g in also:
            self.grad += g


@needs_blas
@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("threads,batch", [(2, 16), (2, 7), (3, 10), (2, 1)])
def test_parts_add_up_to_the_whole_batch(name, threads, batch):
    x = np.random.default_rng(2).random((batch, 12))
    one, many = MODELS[name](), MODELS[name]()
    r1, r2 = _Recorder(one.params), _Recorder(many.params)
    s1 = one.train_step(x, r1, np.random.default_rng(3))
    s2 = DataParallel(many, threads, min_rows=1).train_step(x, r2, np.random.default_rng(3))
    for k in s1:
        assert s2[k] == pytest.approx(s1[k], rel=1e-12, abs=1e-12), k
    scale = np.max(np.abs(r1.grad))
    assert scale > 0
    assert np.max(np.abs(r2.grad - r1.grad)) / scale < 1e-12


@needs_blas
@pytest.mark.parametrize("name", ["vae-diagonal", "vae-shared-gaussian", "ae"])
def test_the_split_gradient_matches_central_differences(name):
    """The gradient a two-thread step applies, against central differences of the whole batch's
    mean loss in float64 (every entry of the flat vector)."""
    x = np.random.default_rng(6).random((9, 12))
    model = MODELS[name]()
    noise = model.sample_noise(9, np.random.default_rng(7)) if model.noise_dim else None
    fixed = _FixedNoise(noise)
    rec = _Recorder(model.params)
    DataParallel(model, 2, min_rows=1).train_step(x, rec, fixed)
    f = lambda: model.forward_loss(x, noise)["loss"]      # noqa: E731
    numeric = numerical_gradient(f, model.params.data)
    assert relative_error(rec.grad, numeric) < 1e-6


class _FixedNoise:
    """Stands in for the generator: hands out the noise drawn beforehand."""

    def __init__(self, noise):
        self.noise = noise

    def standard_normal(self, shape, dtype=None):
        assert shape == self.noise.shape
        return self.noise.astype(dtype)


@needs_blas
def test_data_parallel_adam_steps_track_the_one_thread_steps():
    x = np.random.default_rng(2).random((32, 12))
    one, many = MODELS["vae-diagonal"](), MODELS["vae-diagonal"]()
    o1, o2 = minivae.Adam(one.params, lr=1e-2), minivae.Adam(many.params, lr=1e-2)
    dp = DataParallel(many, 2, min_rows=1)
    g1, g2 = np.random.default_rng(4), np.random.default_rng(4)
    for _ in range(20):
        one.train_step(x, o1, g1)
        dp.train_step(x, o2, g2)
    start = MODELS["vae-diagonal"]().params.data
    assert not np.allclose(one.params.data, start)
    np.testing.assert_allclose(many.params.data, one.params.data, rtol=1e-9, atol=1e-12)


@needs_blas
def test_a_replica_shares_the_values_and_owns_its_gradient_and_buffers():
    model = MODELS["vae-diagonal"]()
    model.train_step(np.random.default_rng(0).random((4, 12)), _Recorder(model.params), np.random.default_rng(0))
    rep = model.replica()
    assert rep.params.data is model.params.data
    assert rep.params["enc.0.W"] is model.params["enc.0.W"]
    assert not np.shares_memory(rep.params.grad, model.params.grad)
    assert not np.shares_memory(rep.params.g("enc.0.W"), model.params.grad)
    assert model.decoder.workspace._arrays and not rep.decoder.workspace._arrays
    model.params["dec.0.b"][0] = 42.0
    assert rep.params["dec.0.b"][0] == 42.0


@needs_blas
def test_blas_threads_are_set_and_restored():
    previous = blas.set_threads(3)
    try:
        assert blas.get_threads() == 3
        with blas.threads(1):
            assert blas.get_threads() == 1
        assert blas.get_threads() == 3
        with pytest.raises(ZeroDivisionError):
            with blas.threads(2):
                1 / 0
        assert blas.get_threads() == 3
    finally:
        blas.set_threads(previous)


@needs_blas
def test_overlapping_and_nested_blas_blocks_leave_the_count_as_they_found_it():
    """Two blocks that overlap (as two split steps on two threads would) and blocks that nest:
    the newest open block's count holds, and the count from before comes back at the end."""
    previous = blas.set_threads(3)
    try:
        a, b = blas.threads(1), blas.threads(2)
        a.__enter__()
        b.__enter__()
        assert blas.get_threads() == 2
        a.__exit__(None, None, None)          # a ends first: b is still open, its count holds
        assert blas.get_threads() == 2
        b.__exit__(None, None, None)
        assert blas.get_threads() == 3        # not 1, the count a had set when b began
        with blas.threads(2):
            with blas.threads(1):
                assert blas.get_threads() == 1
            assert blas.get_threads() == 2
        assert blas.get_threads() == 3
    finally:
        blas.set_threads(previous)


@needs_blas
def test_blas_thread_count_belongs_to_the_whole_process():
    """What the split step is built on: a count set in one thread is the count in every thread."""
    previous = blas.set_threads(3)
    try:
        t = threading.Thread(target=blas.set_threads, args=(1,))
        t.start()
        t.join()
        assert blas.get_threads() == 1
    finally:
        blas.set_threads(previous)


@needs_blas
def test_every_part_multiplies_on_one_blas_thread_until_the_last_part_ends():
    """The helper's part is made to outlast the main thread's. It must still see one BLAS thread
    at its end (a count restored as soon as the main thread's part was done would hand the
    helper's products to the BLAS's own threads), and the count comes back after the step."""
    x = np.random.default_rng(0).random((8, 12))
    model = minivae.VAE(12, 3, (7,), dtype="float64")
    dp = DataParallel(model, 2, min_rows=1)
    helper = dp.workers[1]
    seen, main_done = [], threading.Event()
    main_part, helper_part = model.loss_and_grad, helper.loss_and_grad

    def main(*args, **kwargs):
        seen.append(("main", blas.get_threads()))
        try:
            return main_part(*args, **kwargs)
        finally:
            main_done.set()

    def late(*args, **kwargs):
        seen.append(("helper, start", blas.get_threads()))
        assert main_done.wait(10)
        time.sleep(0.05)                 # the main thread leaves its part and goes on meanwhile
        stats = helper_part(*args, **kwargs)
        seen.append(("helper, end", blas.get_threads()))
        return stats

    model.loss_and_grad, helper.loss_and_grad = main, late
    previous = blas.set_threads(3)
    try:
        dp.train_step(x, _Recorder(model.params), np.random.default_rng(1))
        assert seen and all(n == 1 for _, n in seen), seen
        assert len(seen) == 3
        assert blas.get_threads() == 3
    finally:
        blas.set_threads(previous)


@needs_blas
def test_the_blas_count_comes_back_when_a_part_fails():
    x = np.random.default_rng(0).random((8, 12))
    model = minivae.VAE(12, 3, (7,), dtype="float64")
    dp = DataParallel(model, 2, min_rows=1)

    def broken(*args, **kwargs):
        raise RuntimeError("part failed")

    dp.workers[1].loss_and_grad = broken
    previous = blas.set_threads(3)
    try:
        with pytest.raises(RuntimeError, match="part failed"):
            dp.train_step(x, _Recorder(model.params), np.random.default_rng(1))
        assert blas.get_threads() == 3
    finally:
        blas.set_threads(previous)


def test_the_trainer_picks_the_step(monkeypatch):
    x = np.random.default_rng(0).random((8, 12)).astype(np.float32)
    vae = minivae.VAE(12, 3, (7,))
    assert Trainer(vae, x, batch_size=4, threads=1, progress=False)._stepper is vae
    cat = CategoricalVAE(12, 2, 3, (7,))
    assert Trainer(cat, x, batch_size=4, threads=2, progress=False)._stepper is cat
    if blas.available():
        tr = Trainer(minivae.VAE(12, 3, (7,)), x, batch_size=4, threads=2, progress=False)
        assert isinstance(tr._stepper, DataParallel) and tr._stepper.threads == 2
    monkeypatch.setattr(blas, "_controllers", [])         # a BLAS whose thread count cannot be set
    vae2 = minivae.VAE(12, 3, (7,))
    assert Trainer(vae2, x, batch_size=4, threads=2, progress=False)._stepper is vae2
    with pytest.raises(minivae.ValidationError, match="cannot set the thread count"):
        DataParallel(vae2, 2)


@needs_blas
def test_two_thread_training_resumes_bit_for_bit(tmp_path):
    rng = np.random.default_rng(5)
    x, x_test = rng.random((40, 12)).astype(np.float32), rng.random((10, 12)).astype(np.float32)

    def trainer():
        tr = Trainer(minivae.VAE(12, 3, (7,), seed=2), x, x_test, batch_size=8, seed=1,
                     binarize="dynamic", progress=False, verbose=False, threads=2)
        tr._stepper.min_rows = 1                 # split even these small batches
        return tr

    whole = trainer()
    whole.run(3)
    part = trainer()
    part.run(1)
    path = part.save_checkpoint(tmp_path / "part.npz")
    resumed = Trainer.from_checkpoint(path, x, x_test, progress=False, verbose=False, threads=2)
    resumed._stepper.min_rows = 1
    resumed.run(3)
    assert np.array_equal(resumed.model.params.data, whole.model.params.data)
    assert np.array_equal(resumed.optimizer.m_sum, whole.optimizer.m_sum)
    a = checkpoint.load(resumed.save_checkpoint(tmp_path / "r.npz")).state["history"]
    b = checkpoint.load(whole.save_checkpoint(tmp_path / "w.npz")).state["history"]
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in a] == \
           [{k: v for k, v in r.items() if k != "seconds"} for r in b]


@needs_blas
def test_a_batch_is_cut_into_parts_of_at_least_min_rows():
    """Eight threads on a batch of 64 with min_rows=32 use two of them; a batch of 20, one."""
    model = minivae.VAE(12, 3, (7,), seed=0)
    dp = DataParallel(model, 8, min_rows=32)
    rows = []
    for w in dp.workers:
        real = w.loss_and_grad
        w.loss_and_grad = (lambda real: lambda x, eps, batch_size=None: (rows.append(len(x)), real(x, eps, batch_size))[1])(real)
    rec = _Recorder(model.params)
    dp.train_step(np.random.default_rng(0).random((64, 12)).astype(np.float32), rec, np.random.default_rng(1))
    assert sorted(rows) == [32, 32]
    rows.clear()
    dp.train_step(np.random.default_rng(0).random((20, 12)).astype(np.float32), rec, np.random.default_rng(1))
    assert rows == [20]
