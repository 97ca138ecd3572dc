"""The graders of the notebooks' exercises: each passes minivae's own function, fails a subtly
wrong one with a message naming the worst entry, and reports a stub as not answered."""
import numpy as np
import pytest

from minivae import estimators as E
from minivae import exercises as X
from minivae import kl
from minivae.likelihoods import bernoulli_nll
from minivae.logspace import softmax


def _stub(*args):
    raise NotImplementedError("HINT: differentiate term by term")


def _sigmoid(l):
    return 0.5 * (1 + np.tanh(0.5 * l))


def _learned_sigma(x, m, s):
    r = m - x
    return r * np.exp(-2 * s), x.size - np.exp(-2 * s) * np.sum(r * r)


def _perpixel(x, m, v):
    r = m - x
    return r * np.exp(-v), 0.5 * (1 - r * r * np.exp(-v))


def _reinforce(f, z, mu, lv, b):
    r = z - mu
    return (f - b) * r * np.exp(-lv), (f - b) * 0.5 * (r * r * np.exp(-lv) - 1)


def _gumbel(dy, y, tau):
    return y * (dy - np.sum(dy * y, axis=-1, keepdims=True)) / tau


# grader, a right answer written independently of minivae's, and a subtly wrong one
CASES = {
    "logsumexp": (X.check_logsumexp_gradient, lambda a: np.exp(a - a.max(-1, keepdims=True))
                  / np.exp(a - a.max(-1, keepdims=True)).sum(-1, keepdims=True),
                  lambda a: np.exp(a) / np.exp(a).sum()),                        # normalized over all rows
    "score": (X.check_gaussian_score,
              lambda z, mu, lv: ((z - mu) * np.exp(-lv), 0.5 * ((z - mu) ** 2 * np.exp(-lv) - 1)),
              lambda z, mu, lv: ((z - mu) * np.exp(-lv), 0.5 * (z - mu) ** 2 * np.exp(-lv) - 1)),
    "bernoulli": (X.check_bernoulli_gradient, lambda x, l: _sigmoid(l) - x, lambda x, l: x - _sigmoid(l)),
    "kl_diag": (X.check_kl_diag_gradient, lambda mu, lv: (mu, 0.5 * (np.exp(lv) - 1)),
                lambda mu, lv: (mu, np.exp(lv) - 1)),                            # factor 1/2 missing
    "kl_iso": (X.check_kl_isotropic_gradient,
               lambda mu, s: (mu, mu.shape[1] * (np.exp(2 * s) - 1)),
               lambda mu, s: (mu, mu.shape[1] * np.exp(2 * s) - 1)),             # the slide's slip
    "reparam": (X.check_reparameterize_backward, lambda dz, eps, std: (dz, 0.5 * dz * eps * std),
                lambda dz, eps, std: (dz, dz * eps * std)),
    "learned_sigma": (X.check_learned_sigma_gradient, _learned_sigma,
                      lambda x, m, s: (_learned_sigma(x, m, s)[0], -_learned_sigma(x, m, s)[1])),
    "perpixel": (X.check_gaussian_perpixel_gradient, _perpixel,
                 lambda x, m, v: (_perpixel(x, m, v)[0], 0.5 * (1 + (m - x) ** 2 * np.exp(-v)))),
    "reinforce": (X.check_reinforce_baseline, _reinforce,
                  lambda f, z, mu, lv, b: _reinforce(f, z, mu, lv, 0.0)),         # baseline ignored
    "gumbel": (X.check_gumbel_softmax_backward, _gumbel, lambda dy, y, tau: _gumbel(dy, y, 1.0)),
    "kl_cat": (X.check_kl_categorical_gradient,
               lambda l: softmax(l) * (np.log(softmax(l)) - np.sum(softmax(l) * np.log(softmax(l)), -1, keepdims=True)),
               lambda l: softmax(l) * np.log(softmax(l))),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_grader_passes_a_right_answer(case, capsys):
    grader, right, _ = CASES[case]
    grader(right, exercise="4")
    out = capsys.readouterr().out
    assert out.startswith("✓ exercise 4: correct") and "central differences" in out, out


@pytest.mark.parametrize("case", sorted(CASES))
def test_grader_fails_a_subtly_wrong_answer_naming_the_worst_entry(case):
    grader, _, wrong = CASES[case]
    with pytest.raises(X.ExerciseNotPassed) as info:
        grader(wrong, exercise="4")
    msg = str(info.value)
    assert msg.startswith("✗ exercise 4, not yet:"), msg
    assert "worst entry" in msg and "expected" in msg and "got" in msg, msg
    assert "\n" not in msg and info.value.answered


@pytest.mark.parametrize("case", sorted(CASES))
def test_grader_reports_a_stub_as_not_answered(case):
    grader = CASES[case][0]
    with pytest.raises(X.ExerciseNotPassed) as info:
        grader(_stub, exercise=2)
    assert str(info.value) == ("✗ exercise 2, not yet: not answered "
                               "(NotImplementedError: HINT: differentiate term by term)")
    assert not info.value.answered


def test_graders_accept_minivae_own_functions(capsys):
    X.check_kl_diag_gradient(kl.kl_diag_normal_backward)
    X.check_reparameterize_backward(E.reparameterize_backward)
    X.check_bernoulli_gradient(lambda x, l: bernoulli_nll(x, l)[1])
    X.check_gumbel_softmax_backward(E.gumbel_softmax_backward)
    X.check_kl_categorical_gradient(kl.kl_categorical_uniform_backward)
    X.check_gaussian_score(E.gaussian_score)
    X.check_reinforce_baseline(lambda f, z, mu, lv, b: E.reinforce_gaussian(f, z, mu, lv, baseline=b))
    assert capsys.readouterr().out.count("✓") == 7


def test_a_gradient_right_only_up_to_finite_difference_noise_is_caught():
    """Central differences alone accept an answer off by 1e-7; minivae's own function does not."""
    with pytest.raises(X.ExerciseNotPassed, match="differs from minivae.kl.kl_diag_normal_backward"):
        X.check_kl_diag_gradient(lambda mu, lv: (mu + 1e-7, 0.5 * np.expm1(lv)))


def test_wrong_count_shape_none_and_crash_are_plain_messages():
    with pytest.raises(X.ExerciseNotPassed, match="expected 2 gradient.*returned 1"):
        X.check_kl_diag_gradient(lambda mu, lv: [mu])
    with pytest.raises(X.ExerciseNotPassed, match=r"expected shape \(\d+, \d+\), got \(\d+,\)"):
        X.check_kl_diag_gradient(lambda mu, lv: (mu.sum(1), lv.sum(1)))
    with pytest.raises(X.ExerciseNotPassed, match="None: does your function end with a `return`"):
        X.check_kl_diag_gradient(lambda mu, lv: (None, None))
    with pytest.raises(X.ExerciseNotPassed, match="your code raised ZeroDivisionError: division by zero"):
        X.check_kl_diag_gradient(lambda mu, lv: 1 / 0)


def test_check_array_names_the_worst_entry(capsys):
    expected = np.arange(6.0).reshape(2, 3)
    given = expected.copy()
    given[1, 2] += 0.5
    given[0, 1] += 0.1
    with pytest.raises(X.ExerciseNotPassed) as info:
        X.check_array("exercise 3", given, expected, name="the posterior mean")
    assert str(info.value) == ("✗ exercise 3, not yet: the posterior mean: worst entry at index (1, 2): "
                               "expected 5, got 5.5 (2 of 6 entries differ by more than 1e-09 + 1e-06 |expected|)")
    X.check_array(3, lambda: expected + 1e-12, expected)
    assert capsys.readouterr().out == "✓ exercise 3: correct\n"
    with pytest.raises(X.ExerciseNotPassed, match="entry .* is nan, expected"):
        X.check_array(3, np.full(2, np.nan), np.ones(2))


def test_check_value_and_check_true(capsys):
    X.check_value(1, lambda: 2.0 + 1e-12, 2.0, name="b*")
    assert capsys.readouterr().out == "✓ exercise 1: correct: b* = 2\n"
    with pytest.raises(X.ExerciseNotPassed, match=r"^✗ exercise 1, not yet: b\*: worst entry: expected 2, got 3"):
        X.check_value(1, 3.0, 2.0, name="b*")
    with pytest.raises(X.ExerciseNotPassed, match="not answered"):
        X.check_value(1, _stub, 2.0)
    with pytest.raises(X.ExerciseNotPassed, match=r"^✗ exercise 5, not yet: KL\(q \|\| p\) is mode-seeking$"):
        X.check_true(5, lambda: False, "KL(q || p) is mode-seeking")
    X.check_true(5, lambda: True, "unused")
    assert capsys.readouterr().out == "✓ exercise 5: correct\n"


def test_exercise_not_passed_is_an_assertion_error_shown_without_a_traceback():
    exc = X.ExerciseNotPassed("✗ exercise 1, not yet: x", "1")
    assert isinstance(exc, AssertionError)           # what nbgrader's autograder counts as failed
    assert exc._render_traceback_() == ["✗ exercise 1, not yet: x"]


def test_check_environment_one_line_all_good(capsys, monkeypatch, tmp_path):
    assert X.check_environment(min_version="0.0.1", data=[]) is True
    out = capsys.readouterr().out
    assert out.startswith("✓ environment: minivae") and out.count("\n") == 1


def test_check_environment_missing_data_says_it_will_be_downloaded(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("MINIVAE_DATA", str(tmp_path))
    assert X.check_environment(data=["mnist"]) is True
    out = capsys.readouterr().out
    assert "mnist is not in the folder named by MINIVAE_DATA yet: it will be downloaded" in out
    assert out.count("\n") == 1 and str(tmp_path) not in out


def test_check_environment_too_old_and_bad_arguments_never_raise(capsys):
    assert X.check_environment(min_version="99.0") is False
    out = capsys.readouterr().out
    assert out.startswith("✗ before you start: minivae") and "pip install -e ." in out
    assert X.check_environment(data="mnist") is False
    assert "expected a list of data set names" in capsys.readouterr().out
    assert X.check_environment(data=["no-such-set"]) is False
    assert "no-such-set" in capsys.readouterr().out


def test_check_environment_finds_the_shared_data(capsys):
    import os
    if not os.environ.get("MINIVAE_DATA"):
        pytest.skip("MINIVAE_DATA is not set")
    assert X.check_environment(data=["mnist"]) is True
    assert "mnist found in the folder named by MINIVAE_DATA" in capsys.readouterr().out


# -- notebook 12: the mixture prior, VaDE's bound and the VampPrior -------------------------------
def _lse(a, axis=-1):
    top = a.max(axis=axis, keepdims=True)
    return np.squeeze(top, axis) + np.log(np.sum(np.exp(a - top), axis=axis))


def _log_components(z, m, s):
    """(B, K) log N(z_b | m_k, diag e^s_k), written out with broadcasting (independently of minivae)."""
    r = z[:, None, :] - m[None]
    return -0.5 * np.sum(np.log(2 * np.pi) + s[None] + r * r * np.exp(-s)[None], axis=-1)


def _posterior_c(z, logits, m, s):
    a = logits - _lse(logits) + _log_components(z, m, s)
    return np.exp(a - _lse(a)[:, None])


def _mixture_grad(z, logits, m, s, weights=None):
    r = _posterior_c(z, logits, m, s) if weights is None else weights
    return np.einsum("bk,bkd->bd", r, (m[None] - z[:, None]) * np.exp(-s)[None])


def _vade_grad(mu, lv, gamma, m, s):
    P = np.exp(-s)
    return (np.einsum("bk,bkd->bd", gamma, (mu[:, None] - m[None]) * P[None]),
            0.5 * np.exp(lv) * (gamma @ P) - 0.5)


def _best_qc(mu, lv, logits, m, s):
    a = logits - _lse(logits) + _log_components(mu, m, s) - 0.5 * np.exp(lv) @ np.exp(-s).T
    return np.exp(a - _lse(a)[:, None])


def _vamp(z, mu_u, lv_u):
    return _lse(_log_components(z, mu_u, lv_u)) - np.log(len(mu_u))


def _vamp_per_dimension(z, mu_u, lv_u):
    """The trap: a log-sum-exp over components per coordinate, then a sum (another model)."""
    r = z[:, None, :] - mu_u[None]
    per = -0.5 * (np.log(2 * np.pi) + lv_u[None] + r * r * np.exp(-lv_u)[None])
    return np.sum(_lse(per, axis=1) - np.log(len(mu_u)), axis=-1)


PRIOR_CASES = {   # grader, a right answer, a subtly wrong one
    "mixture_grad": (X.check_mixture_log_prob_gradient, _mixture_grad,
                     lambda z, l, m, s: _mixture_grad(z, l, m, s, np.broadcast_to(softmax(l), (len(z), len(l))))),
    "vade_kl": (X.check_vade_kl_gradient, _vade_grad,
                lambda mu, lv, g, m, s: (_vade_grad(mu, lv, g, m, s)[0], 0.5 * np.exp(lv) * (g @ np.exp(-s)))),
    "best_qc": (X.check_optimal_cluster_posterior, _best_qc,
                lambda mu, lv, l, m, s: _best_qc(mu, lv - 50.0, l, m, s)),   # spread of q ignored
    "vamp": (X.check_vamp_log_prob, _vamp, _vamp_per_dimension),
}


@pytest.mark.parametrize("case", sorted(PRIOR_CASES))
def test_prior_graders_pass_a_right_answer(case, capsys):
    grader, right, _ = PRIOR_CASES[case]
    grader(right, exercise=3)
    assert capsys.readouterr().out.startswith("✓ exercise 3: correct")


@pytest.mark.parametrize("case", sorted(PRIOR_CASES))
def test_prior_graders_fail_a_subtly_wrong_answer_naming_the_worst_entry(case):
    grader, _, wrong = PRIOR_CASES[case]
    with pytest.raises(X.ExerciseNotPassed) as info:
        grader(wrong, exercise=3)
    msg = str(info.value)
    assert msg.startswith("✗ exercise 3, not yet:") and "worst entry at index" in msg, msg
    assert "expected" in msg and "got" in msg and "\n" not in msg and info.value.answered


@pytest.mark.parametrize("case", sorted(PRIOR_CASES))
def test_prior_graders_report_a_stub_as_not_answered(case):
    with pytest.raises(X.ExerciseNotPassed) as info:
        PRIOR_CASES[case][0](_stub, exercise=2)
    assert str(info.value) == ("✗ exercise 2, not yet: not answered "
                               "(NotImplementedError: HINT: differentiate term by term)")
    assert not info.value.answered


def test_vamp_grader_catches_a_log_sum_exp_that_underflows():
    def naive(z, mu_u, lv_u):
        with np.errstate(divide="ignore"):
            return np.log(np.mean(np.exp(_log_components(z, mu_u, lv_u)), axis=-1))
    with pytest.raises(X.ExerciseNotPassed, match=r"log p\(z\), case 1 of 3: entry \(\d+,\) is -inf, expected"):
        X.check_vamp_log_prob(naive)

