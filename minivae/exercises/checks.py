"""The checks every exercise uses: comparisons that say what differs, the gradient grader, and
the environment check of a notebook's first cell."""
from __future__ import annotations

import os

import numpy as np

from .. import datasets
from ..errors import DataFileError, MinivaeError, ValidationError
from ..gradcheck import numerical_gradient
from ..version import __version__

__all__ = ["ExerciseNotPassed", "check_array", "check_value", "check_true",
           "check_gradient_exercise", "check_environment"]


PASS, FAIL = "✓", "✗"


class ExerciseNotPassed(AssertionError):
    """An exercise's answer is missing or wrong; the message says which, and what differs.

    ``answered`` is False when the student's function raised ``NotImplementedError`` (the stub
    of a student edition).
    """

    def __init__(self, message, exercise="", answered=True):
        super().__init__(message)
        self.exercise = exercise
        self.answered = answered

    def _render_traceback_(self):
        # IPython shows these lines instead of a traceback: the student reads one message.
        return [f"{self.args[0]}"]


def _label(exercise):
    exercise = str(exercise)
    return exercise if exercise.lower().startswith("exercise") else f"exercise {exercise}"


def _fail(exercise, text, answered=True):
    raise ExerciseNotPassed(f"{FAIL} {_label(exercise)}, not yet: {text}", exercise, answered)


def _passed(exercise, text):
    print(f"{PASS} {_label(exercise)}: correct{': ' if text else ''}{text}")


def _call(exercise, fn, *args):
    """``fn(*args)``, with whatever the student's code raises turned into a plain report."""
    try:
        return fn(*args)
    except NotImplementedError as exc:
        hint = str(exc) or "replace the stub by your answer"
        _fail(exercise, f"not answered (NotImplementedError: {hint})", answered=False)
    except ExerciseNotPassed:
        raise
    except Exception as exc:   # the student's bug, reported as a message, not a traceback
        _fail(exercise, f"your code raised {type(exc).__name__}: {exc}")


def _fmt(v):
    return f"{v:.6g}" if np.ndim(v) == 0 and np.isreal(v) else repr(v)


def _as_numbers(exercise, what, value):
    if value is None:
        _fail(exercise, f"{what} is None: does your function end with a `return`?")
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        _fail(exercise, f"{what}: expected numbers, got {type(value).__name__} {value!r:.80}")


def _difference(given, expected, rtol, atol):
    """None if ``given`` matches ``expected`` entrywise, else a sentence naming the worst entry."""
    if given.shape != expected.shape:
        return f"expected shape {expected.shape}, got {given.shape}"
    bad_given = ~np.isfinite(given) & np.isfinite(expected)
    if bad_given.any():
        i = np.unravel_index(np.argmax(bad_given), given.shape) if given.ndim else ()
        return (f"entry {tuple(int(k) for k in i)} is {given[i]}, expected {_fmt(expected[i])} "
                f"({int(bad_given.sum())} of {given.size} entries not finite)")
    excess = np.abs(given - expected) - (atol + rtol * np.abs(expected))
    excess = np.where(np.isnan(excess), 0.0, excess)
    if not (excess > 0).any():
        return None
    i = np.unravel_index(np.argmax(excess), given.shape) if given.ndim else ()
    where = f"at index {tuple(int(k) for k in i)}" if given.ndim else ""
    return (f"worst entry {where}: expected {_fmt(expected[i])}, got {_fmt(given[i])} "
            f"({int((excess > 0).sum())} of {given.size} entries differ by more than "
            f"{atol:g} + {rtol:g} |expected|)").replace("entry :", "entry:")


def check_array(exercise, given, expected, rtol=1e-6, atol=1e-9, name="your answer"):
    """Compare an answer with the expected array entry by entry; report the worst entry.

    Parameters
    ----------
    exercise : str or int, shown in the message ("exercise 2")
    given : array_like, or a callable taking no argument that returns it (then a
        ``NotImplementedError`` raised by the student's stub is reported as "not answered")
    expected : array_like
    rtol, atol : an entry passes when |given - expected| <= atol + rtol |expected|
    name : what the answer is called in the message

    Raises
    ------
    ExerciseNotPassed
        With the plain message, when the answer is missing or differs.
    """
    if callable(given):
        given = _call(exercise, given)
    given = _as_numbers(exercise, name, given)
    expected = np.asarray(expected, dtype=np.float64)
    diff = _difference(given, expected, rtol, atol)
    if diff is not None:
        _fail(exercise, f"{name}: {diff}")
    _passed(exercise, "" if given.size > 1 else f"{name} = {_fmt(given.reshape(-1)[0])}")


def check_value(exercise, given, expected, rtol=1e-6, atol=1e-9, name="your answer"):
    """:func:`check_array` for one number."""
    check_array(exercise, given, np.asarray(expected, dtype=np.float64).reshape(()), rtol, atol, name)


def check_true(exercise, given, why):
    """Pass when ``given`` (a value, or a callable returning it) is truthy; ``why`` says what
    a wrong answer gets wrong ("the mode-seeking direction is KL(q || p)")."""
    if callable(given):
        given = _call(exercise, given)
    if given is None:
        _fail(exercise, "your answer is None: does your function end with a `return`?")
    if not bool(given):
        _fail(exercise, why)
    _passed(exercise, "")


# ------------------------------------------------------------------------------------------------
# Gradients: central differences and minivae's own backward pass
# ------------------------------------------------------------------------------------------------
def check_gradient_exercise(exercise, student, reference, loss, draw, wrt, n_cases=3, seed=0,
                            rtol=1e-5, atol=1e-7, reference_name="minivae"):
    """Grade a hand-written derivative on random inputs.

    For each of ``n_cases`` draws, the student's gradient must match central differences of
    ``loss`` (float64, step 1e-5) within ``atol + rtol |numeric|`` entrywise, and minivae's own
    ``reference`` more tightly (1e-8 relative), so that a derivative right only up to
    finite-difference noise, or of another convention (a sum against a mean), is caught.

    Parameters
    ----------
    exercise : label for the messages
    student, reference : callables ``f(inputs) -> gradient or tuple of gradients``, one per name
        in ``wrt``, each of the shape of ``inputs[name]``
    loss : callable ``loss(inputs) -> float``, the scalar differentiated
    draw : callable ``draw(rng) -> dict`` of float64 arrays (random shapes and values)
    wrt : tuple of names of ``inputs`` the gradient is taken with respect to
    reference_name : how the messages call ``reference``

    Raises
    ------
    ExerciseNotPassed
    """
    rng = np.random.default_rng(seed)
    worst = 0.0
    for case in range(1, n_cases + 1):
        inputs = draw(rng)
        shapes = ", ".join(f"{k} {np.shape(v)}" for k, v in inputs.items() if np.ndim(v))
        where = f"case {case} of {n_cases} ({shapes})"
        frozen = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in inputs.items()}
        given = _call(exercise, student, frozen)
        given = given if isinstance(given, (tuple, list)) else (given,)
        if len(given) != len(wrt):
            _fail(exercise, f"expected {len(wrt)} gradient(s), one for each of {', '.join(wrt)}; "
                            f"your function returned {len(given)}")
        expected = reference(inputs)
        expected = expected if isinstance(expected, (tuple, list)) else (expected,)
        for name, g, ref in zip(wrt, given, expected):
            g = _as_numbers(exercise, f"the gradient for {name}", g)
            if g.size == 1 and np.size(inputs[name]) == 1:    # a scalar parameter: float or (1,)
                g = g.reshape(np.shape(inputs[name]))
            numeric = numerical_gradient(lambda: loss(inputs), inputs[name])
            diff = _difference(g, numeric, rtol, atol)
            if diff is not None:
                _fail(exercise, f"d/d{name} differs from central differences on {where}: {diff}")
            diff = _difference(g, np.asarray(ref, dtype=np.float64), 1e-8, 1e-12)
            if diff is not None:
                _fail(exercise, f"d/d{name} matches central differences but differs from "
                                f"{reference_name} on {where}: {diff}")
            scale = np.abs(numeric).max(initial=0.0) + 1e-12
            worst = max(worst, float(np.abs(g - numeric).max(initial=0.0) / scale))
    _passed(exercise, f"matches central differences (worst difference {worst:.1e} of the largest entry) "
                      f"and {reference_name} on {n_cases} random cases")


def _shape(rng, *maximum):
    return tuple(int(rng.integers(1, m + 1)) for m in maximum)


# ------------------------------------------------------------------------------------------------
# The first cell of every notebook
# ------------------------------------------------------------------------------------------------
def _version_tuple(text):
    parts = []
    for piece in str(text).split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts + [0] * (3 - len(parts)))


def environment_problems(min_version="0.1.0", data=()):
    """What stands between this installation and a notebook: a list of one-line instructions
    (empty when all is well), and a list of notes (data found, data to be downloaded)."""
    problems, notes = [], []
    if _version_tuple(__version__) < _version_tuple(min_version):
        problems.append(f"minivae {__version__} is older than this notebook needs ({min_version}): "
                        f"run `pip install -e .` in the minivae folder again, then restart the kernel")
    where = "the folder named by MINIVAE_DATA" if os.environ.get(datasets.ENV_VAR) else "./data"
    for name in data:
        try:
            for split in ("train", "test"):
                datasets.fetch(name, split, download=False)
        except DataFileError as exc:
            text = str(exc)
            if "missing" in text:
                notes.append(f"{name} is not in {where} yet: it will be downloaded there on first use "
                             f"(or set MINIVAE_DATA to a folder that has it, then restart the kernel)")
            else:
                problems.append(text.splitlines()[0])
        except (MinivaeError, OSError) as exc:
            problems.append(f"{name}: {exc}")
        else:
            notes.append(f"{name} found in {where}")
    return problems, notes


def check_environment(min_version="0.1.0", data=()):
    """Print one line: all is well, or what to do. Never raises.

    Parameters
    ----------
    min_version : the oldest minivae the notebook runs with
    data : names of the data sets the notebook loads (found as ``minivae.datasets.load`` finds
        them: MINIVAE_DATA, else ./data, downloaded on first use)

    Returns
    -------
    bool : True when nothing has to be done first.
    """
    try:
        if not isinstance(data, (list, tuple)):
            raise ValidationError(f"data: expected a list of data set names, got {data!r}")
        problems, notes = environment_problems(min_version, data)
    except Exception as exc:   # this cell must never greet a student with a traceback
        problems, notes = [f"could not check the environment ({type(exc).__name__}: {exc})"], []
    if problems:
        print(f"{FAIL} before you start: " + "; ".join(problems))
        return False
    print(f"{PASS} environment: minivae {__version__}, numpy {np.__version__}"
          + "".join(f"; {n}" for n in notes))
    return True
