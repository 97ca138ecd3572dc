"""The one description of a run's options (minivae.options.OPTIONS) and what is derived from it:
the command line's parser, the model configuration, the Trainer's keywords, the checkpoint's
saved settings and the options a resume must keep."""
import numpy as np
import pytest

import minivae
from minivae import options as O
from minivae.cli import RUN_OPTIONS, build_parser, main
from minivae.errors import ValidationError
from minivae.models import build_model
from minivae.train import Trainer


def _train_args(argv=()):
    return build_parser().parse_args(["train", *argv])


def test_every_command_line_option_is_parsed_with_its_default():
    args = _train_args()
    for o in O.OPTIONS:
        if o.cli:
            assert getattr(args, o.name) == o.default, o.name
    assert set(RUN_OPTIONS) == {o.name for o in O.by_kind("data", "run", "model", "trainer", cli=True)}


def test_explicit_parsing_sees_only_what_was_typed():
    typed = vars(build_parser(explicit_only=True).parse_args(["train", "--lr", "0.01", "-z", "5"]))
    assert set(typed) - {"command"} == {"lr", "latent_dim"}


def test_the_default_command_line_builds_the_default_vae():
    cfg = O.model_config(O.run_defaults(), input_dim=784)
    assert build_model(cfg).get_config() == minivae.VAE().get_config()


def test_model_options_reach_the_configuration_only_for_their_models():
    values = {**O.run_defaults(), "model": "categorical", "estimator": "reinforce", "reinforce_samples": 3}
    cfg = O.model_config(values, 784)
    assert cfg["estimator"] == "reinforce" and cfg["baseline"] == "leave-one-out"
    assert "beta" not in cfg and "latent_dim" not in cfg and "prior" not in cfg
    values = {**O.run_defaults(), "likelihood": "gaussian", "sigma": 0.3, "laplace_scale": 2.0}
    assert O.model_config(values, 784)["likelihood"] == {"name": "gaussian", "sigma": 0.3}
    with pytest.raises(ValidationError, match=r"--laplace-scale: applies to --likelihood laplace, got --likelihood gaussian"):
        O.check_applicable(values, {"laplace_scale"})
    with pytest.raises(ValidationError, match=r"--beta, --prior: only for --model vae, got --model ae"):
        O.check_applicable({**values, "model": "ae"}, {"beta", "prior"})


def test_every_trainer_option_is_a_trainer_keyword_saved_in_its_state(rng):
    x = rng.random((16, 6)).astype(np.float32)
    tr = Trainer(minivae.VAE(6, 2, (4,)), x, batch_size=4, progress=False, verbose=False, threads=1)
    state = tr.state()
    for o in O.by_kind("trainer"):
        assert o.name in state and o.name in Trainer._SAME, o.name
    for o in O.by_kind("session"):
        assert o.name not in Trainer._SAME
    with pytest.raises(ValidationError, match=r"options: unknown training option\(s\) \['learning_rate'\]"):
        Trainer(minivae.VAE(6, 2, (4,)), x, learning_rate=0.1)


def test_a_trainer_option_missing_from_an_old_state_reads_as_its_default(rng):
    x = rng.random((16, 6)).astype(np.float32)
    tr = Trainer(minivae.VAE(6, 2, (4,)), x, batch_size=4, progress=False, verbose=False, threads=1)
    tr.run(1)
    state = tr.state()
    del state["lr_decay"], state["dequantize"]          # as written before those options existed
    other = Trainer(minivae.VAE(6, 2, (4,)), x, batch_size=4, progress=False, verbose=False, threads=1)
    other.restore(state, tr.optimizer.state_dict())
    assert other.epoch == 1
    changed = Trainer(minivae.VAE(6, 2, (4,)), x, batch_size=4, lr_decay=0.5, progress=False, verbose=False)
    with pytest.raises(ValidationError, match=r"lr_decay: saved 1.0, this trainer has 0.5"):
        changed.restore(state, tr.optimizer.state_dict())


def test_cli_trains_with_the_prior_option_and_resume_keeps_it(tmp_path, rng, monkeypatch):
    from minivae import datasets
    x = rng.random((60, 784)).astype(np.float32)
    fake = datasets.Dataset(x=x, y=None, name="mnist", split="train")
    monkeypatch.setattr("minivae.cli.datasets.load", lambda *a, **k: fake)
    out = str(tmp_path / "run")
    common = ["--hidden", "8", "--latent-dim", "2", "--batch-size", "20", "--no-progress", "--out", out]
    assert main(["train", "--prior", "normal", "--epochs", "1", *common]) == 0
    ck = minivae.checkpoint.load(tmp_path / "run" / "checkpoint.npz")
    assert ck.state["args"]["prior"] == "normal" and ck.config["prior"] == {"name": "normal"}
    # a checkpoint whose saved options predate --prior resumes as the default prior
    args = dict(ck.state["args"])
    del args["prior"]
    tr = Trainer.from_checkpoint(ck, x, x, progress=False, verbose=False)
    tr.save_checkpoint(tmp_path / "run" / "checkpoint.npz", extra={"args": args})
    assert main(["train", "--resume", "--out", out, "--epochs", "2", "--no-progress"]) == 0
    assert minivae.checkpoint.load(tmp_path / "run" / "checkpoint.npz").state["epoch"] == 2
    assert main(["train", "--resume", "--out", out, "--epochs", "3", "--no-progress", "--lr", "0.5"]) == 2
